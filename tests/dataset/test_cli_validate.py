"""``tuneport validate`` through typer's runner: exit codes, JSON, did-you-mean."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from tuneport.cli import app

from .conftest import chat

runner = CliRunner()


def test_good_file_exits_0_and_prints_one_json_object(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl([chat(f"q{i}") for i in range(12)])
    result = runner.invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert data["examples"] == 12
    assert data["format"] == "chat"
    assert set(data["tokens"]) == {"openai", "together", "fireworks", "local"}


def test_errors_exit_1_and_are_listed_with_lines(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl([chat(), "{nope", chat(assistant="")])
    result = runner.invoke(app, ["validate", str(path), "--target", "local"])
    assert result.exit_code == 1
    assert "invalid_json" in result.stdout
    assert "line 2" in result.stdout
    assert "empty_content" in result.stdout
    assert "line 3" in result.stdout
    result = runner.invoke(app, ["validate", str(path), "-t", "local", "--json"])
    data = json.loads(result.stdout)
    assert data["issue_counts"] == {"invalid_json": 1, "empty_content": 1}
    assert [i["line"] for i in data["issues"]] == [2, 3]


def test_targets_and_model_select_rules(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl([chat()] * 3)
    result = runner.invoke(app, ["validate", str(path), "-t", "openai", "-t", "fireworks",
                                 "-m", "llama-3.1-8b-instruct", "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1  # openai needs 10 examples
    assert data["issue_counts"] == {"too_few_examples": 1}
    assert data["tokens"]["fireworks"]["model"] == "llama-3.1-8b-instruct"
    assert data["tokens"]["openai"]["model"] is None


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "not found" in result.stderr


def test_unknown_target_exits_2_with_did_you_mean(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl([chat()])
    result = runner.invoke(app, ["validate", str(path), "--target", "fireworx"])
    assert result.exit_code == 2
    assert "Did you mean: fireworks" in result.stderr
    result = runner.invoke(app, ["validate", str(path), "--target", "fireworx", "--json"])
    assert json.loads(result.stdout)["suggestions"] == ["fireworks"]


def test_unknown_model_exits_2_with_did_you_mean(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl([chat()])
    result = runner.invoke(app, ["validate", str(path), "--model", "gpt-4o-mnii"])
    assert result.exit_code == 2
    assert "Did you mean" in result.stderr
    assert "gpt-4o-mini" in result.stderr


def test_human_output_shows_markup_like_text_verbatim(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl(['{"question": "[bold]x[/bold]"}'])
    result = runner.invoke(app, ["validate", str(path), "-t", "local"])
    assert result.exit_code == 1
    assert "unknown_format" in result.stdout
    assert "'messages'" in result.stdout
