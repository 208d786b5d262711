"""Handling provider errors: one exception tree, whatever the provider and its SDK.

Runs offline against tuneport's emulator. A wrong API key and an unknown job id end in
tuneport errors that name the provider, the HTTP status, the provider's request id (quote
it to their support) and what to do; the key never appears in them, nor in the SDK
exception chained as their cause.

    python examples/provider_errors.py
"""

from __future__ import annotations

import traceback

import tuneport
from tuneport.emulator import running


def main() -> None:
    with running() as emu:
        for provider, base_url in (("openai", emu.openai_base_url),
                                   ("together", emu.together_base_url),
                                   ("fireworks", emu.fireworks_base_url)):
            wrong_key = "sk-this-key-is-wrong-0123456789"
            with tuneport.Client(provider=provider, base_url=base_url, api_key=wrong_key,
                                 account_id="emulator", project_id="emulator") as client:
                try:
                    client.get_job(f"{provider}:no-such-job")
                except tuneport.AuthenticationError as exc:
                    print(f"{type(exc).__name__}: status={exc.status_code} "
                          f"request_id={exc.request_id}")
                    print(f"  {exc}")
                    printed = "".join(traceback.format_exception(exc))
                    print(f"  key in the full traceback: {wrong_key in printed}")
            with tuneport.Client(provider=provider, base_url=base_url, api_key=emu.api_key,
                                 account_id="emulator", project_id="emulator") as client:
                try:
                    client.get_job(f"{provider}:no-such-job")
                except tuneport.NotFoundError as exc:
                    print(f"{type(exc).__name__}: status={exc.status_code}")
                    print(f"  {exc}")
                except tuneport.ProviderError as exc:  # every provider error is one of these
                    print(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
