"""Fixtures for the emulator's contract tests: a running emulator on a manual clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from tuneport.emulator import Emulator, ManualClock, running

from . import spec_validator

JOB_SECONDS = 100.0


def chat_line(i: int) -> str:
    """One valid chat example."""
    return json.dumps({"messages": [
        {"role": "system", "content": "You are a terse support bot."},
        {"role": "user", "content": f"How do I reset password number {i}?"},
        {"role": "assistant", "content": f"Open settings, choose reset, and follow step {i}."},
    ]})


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """An emulator whose jobs take 100 s on a clock the test moves.

    After the test, every answer it gave is held to ``shared/specs`` (see
    ``spec_validator``), so each contract test is also a schema test.
    """
    with running(clock=ManualClock(), job_seconds=JOB_SECONDS, file_seconds=1.0,
                 deploy_seconds=5.0, retry_after=0.05, timeout_seconds=2.0) as emulator:
        yield emulator
    if spec_validator.SPECS.is_dir():
        for exchange in emulator.exchanges:
            spec_validator.check_exchange(exchange)


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    """A valid 12-example chat dataset (enough for every provider's minimum)."""
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(chat_line(i) for i in range(12)) + "\n")
    return path


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    """A dataset whose third line has a message without a role."""
    lines = [chat_line(i) for i in range(12)]
    lines[2] = json.dumps({"messages": [{"content": "no role"},
                                        {"role": "assistant", "content": "hi"}]})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path
