"""Long work prints a line at least every 10 s in a log or a pipe (never minutes of silence)."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from tuneport.cli._progress import LINE_INTERVAL, Heartbeat

ROOT = Path(__file__).resolve().parents[2]


def test_a_heartbeat_fills_silences_off_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    ticks = iter(range(1000))
    with Heartbeat(console, lambda: f"still working {next(ticks)}", every=0.1) as beat:
        time.sleep(0.55)
        beat.print("status changed")
        time.sleep(0.05)  # shorter than the interval: no heartbeat right after a line
    lines = out.getvalue().splitlines()
    assert 4 <= lines.index("status changed") <= 6
    assert lines[-1] == "status changed"


def test_a_terminal_gets_no_extra_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with Heartbeat(console, lambda: "tick", every=0.05):
        time.sleep(0.3)
    assert out.getvalue() == ""


@pytest.mark.slow
def test_tuneport_wait_in_a_pipe_prints_at_least_every_ten_seconds(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from tuneport.emulator import running

    with running(job_seconds=25.0) as emu:
        env = {**os.environ, **emu.env(), "TUNEPORT_HOME": str(tmp_path), "COLUMNS": "100"}
        data = ROOT / "examples" / "data" / "support_chat.jsonl"
        submitted = subprocess.run(
            [sys.executable, "-m", "tuneport", "submit", str(data), "-p", "together", "-m",
             "llama-3.1-8b-instruct", "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert submitted.returncode == 0, submitted.stderr
        job_id = json.loads(submitted.stdout)["id"]
        # --poll 30: the first poll comes after the job ended; only the heartbeat speaks.
        stamps = [time.monotonic()]
        lines = []
        with subprocess.Popen(
            [sys.executable, "-m", "tuneport", "wait", f"together:{job_id}", "--poll", "30"],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        ) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:
                stamps.append(time.monotonic())
                lines.append(line)
            assert proc.wait(timeout=120) == 0, lines
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(lines) >= 3, lines
    assert max(gaps) <= LINE_INTERVAL + 3, (gaps, lines)
