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
                           env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "qwen2.5-7b-instruct" in result.stdout
    assert "Cheapest in green" in result.stdout
    assert "2026-" in result.stdout  # price dates shown
    assert "fireworks (hosted)" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
    assert "RTX-4090" in result.stdout
    assert "Assumptions" in result.stdout
    assert "MFU" in result.stdout


def test_unknown_model_error_json_and_human(data: Path) -> None:
    result = runner.invoke(app, ["compare", str(data), "--model", "llama-3.1-8b", "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["error"]["type"] == "UnknownModelError"
    assert "llama-3.1-8b-instruct" in payload["error"]["suggestions"]
    human = runner.invoke(app, ["estimate", str(data), "-p", "togther", "-m", "x"])
    assert human.exit_code == 1
    assert "Did you mean: together" in human.output
    assert "Traceback" not in human.output


def test_bad_epochs_is_a_usage_error(data: Path) -> None:
    result = runner.invoke(app, ["estimate", str(data), "-p", "openai", "-m", "gpt-4o-mini",
                                 "--epochs", "zero"])
    assert result.exit_code == 2
