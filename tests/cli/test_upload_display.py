"""Upload progress on the CLI: a bar on a terminal, timed plain lines anywhere else."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from rich.console import Console

from tuneport.cli import _upload_display
from tuneport.cli._upload_display import showing_uploads
from tuneport.providers._upload_progress import reporter


def test_plain_lines_keep_coming_while_bytes_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_upload_display, "LINE_INTERVAL", 0.1)
    out = io.StringIO()
    with showing_uploads(Console(file=out, force_terminal=False, width=200)):
        report = reporter("together", "train.jsonl", 4 * 1024 * 1024, "multipart")
        report(0)
        report(1024 * 1024)  # within the interval of the first line: not printed
        time.sleep(0.45)     # a part in flight: no progress, yet the log must not go quiet
        report.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == ("  uploading train.jsonl to together (multipart): 0 B of 4.0 MB (0%), "
                        "0 B/s")
    stalled = [line for line in lines[1:-1] if "1.0 MB of 4.0 MB (25%)" in line]
    assert len(stalled) >= 2, lines
    assert lines[-1].startswith("  sent train.jsonl to together: 4.0 MB in ")


def test_no_listener_no_output_and_nothing_breaks() -> None:
    report = reporter("openai", "train.jsonl", 10, "single")
    report(5)
    report.finish()  # nobody listens: nothing happens


def test_a_bar_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with showing_uploads(console):
        report = reporter("fireworks", "big.jsonl", 2048, "signed-url")
        report(1024)
        report.finish()
    text = out.getvalue()
    assert "big.jsonl → fireworks (signed-url)" in text
    assert "\x1b[" in text  # drawn with terminal control codes, not plain lines
    assert "uploading big.jsonl" not in text


def test_json_mode_shows_nothing() -> None:
    out = io.StringIO()
    with showing_uploads(Console(file=out, force_terminal=False), enabled=False):
        report = reporter("openai", "train.jsonl", 10, "single")
        report(10)
        report.finish()
    assert out.getvalue() == ""


def test_submit_shows_upload_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("starlette")
    from typer.testing import CliRunner

    from tuneport.cli import app
    from tuneport.emulator import ManualClock, running
    from tuneport.providers import together as together_adapter

    monkeypatch.setattr(together_adapter, "MULTIPART_THRESHOLD", 1)  # the large path
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"What is {i} plus {i}?"},
        {"role": "assistant", "content": f"{2 * i}."}]}) + "\n" for i in range(12)))
    with running(clock=ManualClock(), file_seconds=0.0) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["submit", str(data), "--provider", "together",
                                          "--model", "llama-3.1-8b-instruct", "--epochs", "1"])
        assert result.exit_code == 0, result.output
        assert any("/multipart/complete" in e.path for e in emu.exchanges)
    # The rendered file (Together's wire format) is what travels.
    assert re.search(r"^  uploading \S+\.jsonl to together \(multipart\): 0 B of [\d.]+ KB "
                     r"\(0%\), 0 B/s$", result.stderr, re.M), result.stderr
    assert re.search(r"^  sent \S+\.jsonl to together: [\d.]+ KB in [\d.]+ s$", result.stderr,
                     re.M), result.stderr
