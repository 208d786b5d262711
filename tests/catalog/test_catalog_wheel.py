"""The built wheel carries the catalogs, and the installed layout finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FILES = ("openai.toml", "together.toml", "fireworks.toml", "local.toml", "gpus.toml")


def test_wheel_contains_catalogs_and_loads_them(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    # hatchling directly (no isolated env, no network): about a second.
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out),
         str(REPO)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    (wheel,) = out.glob("tuneport-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in FILES:
            assert f"tuneport/_catalog_data/{name}" in names
        site = tmp_path / "site"
        zf.extractall(site)
    # Import the unpacked wheel (not the checkout) and load its catalog.
    code = (
        "import tuneport.catalog as c, sys; d = c.builtin_data_dir(); "
        "cat = c.load_catalog(sys.argv[1]); "
        "print(d.name, len(cat.provider_names), cat.resolve_model('together', "
        "'llama-3.1-8b-instruct').id)"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "none")],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert done.stdout.split() == [
        "_catalog_data", "4", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"]
