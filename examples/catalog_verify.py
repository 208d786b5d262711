"""Check tuneport's catalog against what a provider lists, here against the local emulator.

    python examples/catalog_verify.py

With real credentials (``TOGETHER_API_KEY`` and no ``TOGETHER_BASE_URL``) the same command,
``tuneport catalog verify --provider together``, asks Together itself. The emulator lists
fewer models than the catalog, so the report shows models it does not list; the training
lengths and hourly prices it does list agree with the catalog.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tuneport.emulator import running


def main() -> None:
    with running() as emu:
        env = {**os.environ, "TOGETHER_API_KEY": emu.api_key,
               "TOGETHER_BASE_URL": emu.together_base_url}
        done = subprocess.run(
            [sys.executable, "-m", "tuneport", "catalog", "verify", "--provider", "together",
             "--json"], env=env, capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout)
    print(f"{report['models_listed']} fine-tunable models listed, "
          f"{report['models_checked']} catalog models checked")
    for diff in report["differences"]:
        print(f"- {diff['model'] or ''} {diff['field']}: catalog {diff['catalog']}, "
              f"provider {diff['provider']}")


if __name__ == "__main__":
    main()
