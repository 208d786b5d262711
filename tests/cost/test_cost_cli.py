"""``tuneport estimate`` / ``tuneport compare`` through typer's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tuneport.cli import app

runner = CliRunner()


@pytest.fixture
def data(repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # No developer overrides: point the catalog override dir at an empty folder.
    monkeypatch.setenv("TUNEPORT_CATALOG_DIR", str(tmp_path / "no-overrides"))
    target = tmp_path / "support.jsonl"
    shutil.copy(repo_root / "examples" / "data" / "support_chat.jsonl", target)
    return target


def test_compare_json_shape(data: Path) -> None:
    result = runner.invoke(app, ["compare", str(data), "--model", "llama-3.1-8b-instruct",
                                 "--epochs", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"model", "dataset", "rows"}
    assert payload["model"] == "llama-3.1-8b-instruct"
    assert payload["dataset"]["examples"] == 180
    assert payload["dataset"]["tokens"] > 0
    expected = [r["training_usd"]["expected"] for r in payload["rows"]]
    assert expected == sorted(expected)
    assert {r["kind"] for r in payload["rows"]} == {"hosted", "self-hosted"}
    hosted = {r["provider"]: r for r in payload["rows"] if r["kind"] == "hosted"}
    assert hosted["together"]["provider_model"] == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    assert hosted["together"]["serving"]["kind"] == "per_hour"


def test_compare_human_table_and_plot(data: Path, tmp_path: Path) -> None:
    png = tmp_path / "out" / "chart.png"
    result = runner.invoke(app, ["compare", str(data), "--model", "qwen2.5-7b-instruct",
                                 "--gpus", "H100,L4", "--plot", str(png)],
                           env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "qwen2.5-7b-instruct" in out
    assert "cheapest first (green)" in out
    assert "Serving" in out  # a column from 110 columns on
    assert "fireworks (hosted)" in out
    assert "H100-SXM @ runpod-community" in out
    assert "2026-" in out  # price dates shown
    assert f"Chart written to {png}" in out.replace("\n", "")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_table_fits_80_columns_with_grouped_notes(data: Path, tmp_path: Path) -> None:
    # Two old GPU prices through the override dir (merged per entry), so the grouped stale
    # line does not depend on the built-in catalog's dates.
    (tmp_path / "no-overrides").mkdir()
    (tmp_path / "no-overrides" / "gpus.toml").write_text(
        '[[gpus]]\nname = "L4"\nprices = [\n'
        '  { cloud = "runpod", usd_per_hour = 0.44, as_of = 2025-01-01, source = "test" },\n'
        '  { cloud = "gcp", usd_per_hour = 0.70, as_of = 2025-01-01, source = "test" },\n]\n'
    )
    result = runner.invoke(app, ["compare", str(data), "--model", "llama-3.1-8b-instruct",
                                 "--epochs", "3"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    # One line per option: its rank, label, expected cost and price date on the same line.
    ranked = [line for line in lines if line[:3].strip().isdigit()]
    assert len(ranked) >= 20
    assert all(line.rstrip().endswith(("*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
               for line in ranked)
    assert any("together (hosted)" in line and "2026-02-15*" in line for line in ranked)
    assert any("8x H100-SXM @ aws" in line for line in ranked)
    # Stale prices and whole-instance billing: one grouped note each, not one per row.
    text = result.stdout
    assert "Price '" not in text
    assert text.count("Prices over 120 days old") == 1
    assert "L4 at runpod, L4 at gcp from 2025-01-01" in " ".join(text.split())
    assert text.count("whole 8-GPU instances") == 1
    assert "Serving is billed separately" in text  # no serving column at 80 columns


def test_plot_write_error_is_a_clear_message(data: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["compare", str(data), "--model", "qwen2.5-7b-instruct",
                                 "--providers", "together", "--plot",
                                 str(blocker / "chart.png")])
    assert result.exit_code == 1
    assert "Cannot write the chart" in result.output
    assert "Traceback" not in result.output


def test_unknown_gpu_is_an_error_not_a_skipped_row(data: Path) -> None:
    result = runner.invoke(app, ["compare", str(data), "--model", "qwen2.5-7b-instruct",
                                 "--gpus", "H1000", "--json"])
    assert result.exit_code == 2  # a usage error, like every unknown name
    error = json.loads(result.stdout)
    assert error["type"] == "UnknownGpuError"
    assert "H200" in error["suggestions"]
    assert "H1000" in error["error"]


def test_estimate_json(data: Path) -> None:
    result = runner.invoke(app, ["estimate", str(data), "--provider", "openai", "--model",
                                 "gpt-4o-mini", "--epochs", "auto", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["provider"] == "openai"
    assert payload["epochs"] == 3  # 180 examples: 540 is inside 100..25000
    assert payload["training_usd"]["expected"] > 0
    assert payload["lines"]
    assert payload["assumptions"]


def test_estimate_human_and_local(data: Path) -> None:
    result = runner.invoke(app, ["estimate", str(data), "-p", "local", "-m",
                                 "smollm2-135m-instruct", "--gpus", "RTX-4090"],
                           env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "RTX-4090 @ " in result.stdout
    assert "Assumptions" in result.stdout
    assert "MFU" in result.stdout
    assert "GPU-hours" in result.stdout
    narrow = runner.invoke(app, ["estimate", str(data), "-p", "together", "-m",
                                 "llama-3.1-8b-instruct", "--validation-fraction", "0.1"],
                           env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert "together (hosted): sft-lora, 1 epoch, 180 examples" in narrow.stdout
    assert "validation tokens billed" in narrow.stdout
    assert "* Prices" not in narrow.stdout  # an estimate keeps its own stale note
    assert "days old, over 120" in " ".join(narrow.stdout.split())


def test_unknown_model_error_json_and_human(data: Path) -> None:
    result = runner.invoke(app, ["compare", str(data), "--model", "llama-3.1-8b", "--json"])
    assert result.exit_code == 2
    # The documented shape (docs/cli.md), the same as every other command's.
    payload = json.loads(result.stdout)
    assert payload["type"] == "UnknownModelError"
    assert "llama-3.1-8b-instruct" in payload["suggestions"]
    assert "llama-3.1-8b" in payload["error"]
    human = runner.invoke(app, ["estimate", str(data), "-p", "togther", "-m", "x"])
    assert human.exit_code == 2
    assert "Did you mean: together" in human.output
    assert "Traceback" not in human.output
    assert len(human.output.strip().splitlines()) == 1  # one line, not wrapped at 80


def test_bad_epochs_is_a_usage_error(data: Path) -> None:
    result = runner.invoke(app, ["estimate", str(data), "-p", "openai", "-m", "gpt-4o-mini",
                                 "--epochs", "zero"])
    assert result.exit_code == 2
