"""examples/reliability_faults.py runs offline, as shipped, and finds nothing doubled or lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("openai")
pytest.importorskip("together")
pytest.importorskip("fireworks")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reliability_faults.py"


def test_the_fault_example_counts_one_job_per_submission(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUNEPORT_", "OPENAI_", "TOGETHER_", "FIREWORKS_"))}
    done = subprocess.run([sys.executable, str(EXAMPLE), "2"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["submissions"] == 6
    assert figures["jobs_at_the_providers"] == 6
    assert figures["lost"] == 0
