"""Money reads the same everywhere: two decimals, two significant digits below a cent, and
per-token prices labelled per 1M."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tuneport.cli import app
from tuneport.cost import per_million_text, unit_price_text, usd_range_text, usd_text

runner = CliRunner()
DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "support_chat.jsonl"
# A dollar amount as printed: either two decimals, or 0.00... with two significant digits.
_AMOUNT = re.compile(r"\$(?:\d{1,3}(?:,\d{3})*\.\d\d|0\.0*[1-9]\d)(?!\d)")


@pytest.mark.parametrize(("value", "text"), [
    (0, "$0.00"),
    (Decimal("3"), "$3.00"),
    (0.5, "$0.50"),
    (1234.5, "$1,234.50"),
    (Decimal("0.0053"), "$0.0053"),
    (0.004, "$0.0040"),
    (0.00042, "$0.00042"),
    (0.00999, "$0.01"),  # rounds up to a cent: two decimals again
    (0.01, "$0.01"),
])
def test_one_rule(value: object, text: str) -> None:
    assert usd_text(value) == text


def test_ranges_and_unit_prices() -> None:
    assert usd_range_text(Decimal("0.004"), Decimal("0.0076")) == "$0.0040-$0.0076"
    assert usd_range_text(3, 3) == "$3.00"
    assert per_million_text(Decimal("0.48")) == "$0.48 per 1M tokens"
    assert unit_price_text(Decimal("0.48"), "tokens") == "$0.48/1M tokens"
    assert unit_price_text(Decimal("3"), "job") == "$3.00/job"
    assert unit_price_text(Decimal("2.69"), "GPU-hours") == "$2.69/GPU-hour"


def _amounts(text: str) -> list[str]:
    return re.findall(r"\$[\d.,]+", text)


def test_the_compare_table_explains_the_fireworks_minimum() -> None:
    result = runner.invoke(app, ["compare", str(DATA), "-m", "llama-3.1-8b-instruct",
                                 "--providers", "fireworks,together"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "minimum $3.00 per job (the tokens alone: $0.0055)" in text
    for amount in _amounts(result.stdout):
        assert _AMOUNT.fullmatch(amount.rstrip(".,")), amount


def test_the_estimate_labels_per_million_prices() -> None:
    result = runner.invoke(app, ["estimate", str(DATA), "-p", "together", "-m",
                                 "llama-3.1-8b-instruct"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "$0.48/1M tokens" in result.stdout
    for amount in _amounts(result.stdout):
        assert _AMOUNT.fullmatch(amount.rstrip(".,")), amount


def test_print_of_a_comparison_uses_the_same_rule() -> None:
    import tuneport

    text = str(tuneport.compare(DATA, model="llama-3.1-8b-instruct",
                                providers=["fireworks", "together"]))
    assert "minimum $3.00 per job" in text
    for amount in _amounts(text):
        assert _AMOUNT.fullmatch(amount.rstrip(".,")), amount


def test_the_compare_example_labels_its_prices() -> None:
    import subprocess
    import sys

    example = DATA.parents[1] / "compare_providers.py"
    result = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert re.search(r"[\d,]+ tokens x \$0\.48 per 1M tokens", result.stdout)
    assert "minimum $3.00 per job" in result.stdout
    for amount in _amounts(result.stdout):
        assert _AMOUNT.fullmatch(amount.rstrip(".,")), amount
