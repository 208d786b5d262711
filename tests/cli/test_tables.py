"""Tables never cut a number or an id: columns wrap whole, or are left out (and named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tuneport.cli import app
from tuneport.cost import usd_text

runner = CliRunner()
DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "support_chat.jsonl"
WIDTHS = (120, 80, 60, 40)


def _run(width: int, *args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 1), result.output
    assert "…" not in result.stdout, result.stdout  # rich's mark of a cut cell
    return result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_validate_keeps_every_count_whole(width: int) -> None:
    report = json.loads(runner.invoke(app, ["validate", str(DATA), "--json"]).stdout)
    text = _run(width, "validate", str(DATA))
    for target, stats in report["tokens"].items():
        assert f"{stats['total']:,}" in text, (target, text)
        if not stats["exact"]:
            assert f"({stats['total_low']:,}-{stats['total_high']:,})" in text
    if width < 100:
        assert "left out to fit the terminal" in " ".join(text.split())


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_keeps_every_amount_whole(width: int) -> None:
    args = ["compare", str(DATA), "-m", "llama-3.1-8b-instruct"]
    rows = json.loads(runner.invoke(app, [*args, "--json"]).stdout)["rows"]
    text = _run(width, *args)
    for row in rows:
        assert usd_text(row["training_usd"]["expected"]) in text
    flat = " ".join(text.split())
    assert "minimum $3.00 per job" in flat
    if width <= 60:
        assert "left out to fit the terminal" in flat


@pytest.mark.parametrize("width", WIDTHS)
def test_estimate_keeps_every_amount_whole(width: int) -> None:
    args = ["estimate", str(DATA), "-p", "fireworks", "-m", "llama-3.1-8b-instruct"]
    est = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    text = _run(width, *args)
    for line in est["lines"]:
        if line["amount_usd"] is not None:
            assert usd_text(line["amount_usd"]) in text
