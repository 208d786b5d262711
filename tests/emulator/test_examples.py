"""The emulator's runnable examples work offline, as shipped."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytest.importorskip("openai")

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("emulator_*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(example), run_name="__main__")
    out = capsys.readouterr().out
    assert "succeeded" in out
    assert "[emulated ft:" in out


def test_there_is_an_example() -> None:
    assert EXAMPLES
