"""``estimate`` / ``compare`` warn when the dataset has validation errors.

The figures count what can be read, so they describe the data once fixed; the warning says
so (on stderr, so ``--json`` stays one object on stdout) and names the first error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tuneport.cli import app

runner = CliRunner()
MODEL = "llama-3.1-8b-instruct"
NOTE = "These figures assume the errors are fixed"


@pytest.fixture
def clean(repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNEPORT_CATALOG_DIR", str(tmp_path / "no-overrides"))
    target = tmp_path / "support.jsonl"
    shutil.copy(repo_root / "examples" / "data" / "support_chat.jsonl", target)
    return target


@pytest.fixture
def broken(clean: Path) -> Path:
    lines = clean.read_text().splitlines()
    lines[2] = json.dumps({"messages": [{"content": "no role here"},
                                        {"role": "assistant", "content": "hi"}]})
    target = clean.with_name("broken.jsonl")
    target.write_text("\n".join(lines) + "\n")
    return target


def test_estimate_warns_about_errors(broken: Path) -> None:
    result = runner.invoke(app, ["estimate", str(broken), "--provider", "together",
                                 "--model", MODEL, "--epochs", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert NOTE in result.stderr
    assert "line 3" in result.stderr
    assert "for together" in result.stderr
    assert json.loads(result.stdout)["provider"] == "together"  # stdout is still JSON


def test_compare_warns_about_errors(broken: Path) -> None:
    result = runner.invoke(app, ["compare", str(broken), "--model", MODEL, "--providers",
                                 "together,fireworks", "--gpus", "H100"])
    assert result.exit_code == 0, result.output
    assert NOTE in result.stderr
    assert "for fireworks" in result.stderr
    assert "for together" in result.stderr


def test_clean_data_gets_no_warning(clean: Path) -> None:
    result = runner.invoke(app, ["estimate", str(clean), "--provider", "openai",
                                 "--model", "gpt-4o-mini", "--json"])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    compared = runner.invoke(app, ["compare", str(clean), "--model", MODEL, "--providers",
                                   "together", "--json"])
    assert compared.exit_code == 0, compared.output
    assert "Warning" not in compared.stderr
