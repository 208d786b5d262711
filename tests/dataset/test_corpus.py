"""Each bad file of the corpus yields exactly the expected (line, code) problems."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tuneport.dataset import CODES, Dataset

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, list[Any]]] = json.loads((CORPUS / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_reports_exactly_the_expected_lines(name: str) -> None:
    spec = EXPECTED[name]
    report = Dataset.from_jsonl(CORPUS / name).validate(tuple(spec["targets"]))
    got = Counter((i.line, i.code) for i in report.issues)
    want = Counter((line, code) for line, code in spec["issues"])
    assert got == want
    for issue in report.issues:
        assert issue.code in CODES
        assert issue.message.strip()
        assert set(issue.targets) <= set(spec["targets"])
        assert issue.severity in ("error", "warning")


def test_every_code_has_a_corpus_file_or_is_file_level() -> None:
    covered = {code for spec in EXPECTED.values() for _line, code in spec["issues"]}
    missing = set(CODES) - covered - {"too_many_examples", "file_too_large",
                                      "unsupported_tools"}
    assert not missing, f"codes without a corpus file: {sorted(missing)}"


def test_every_code_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "validation-codes.md").read_text()
    for code in CODES:
        assert f"`{code}`" in doc, code


DATA = Path(__file__).parents[2] / "examples" / "data"


@pytest.mark.parametrize(("name", "fmt", "ok_targets"), [
    ("chat_small.jsonl", "chat", {"openai", "together", "fireworks", "local"}),
    ("prompt_completion.jsonl", "completion", {"together", "fireworks", "local"}),
    ("preference.jsonl", "preference", {"openai", "together", "fireworks", "local"}),
    ("bad.jsonl", "mixed", set()),
])
def test_sample_datasets(name: str, fmt: str, ok_targets: set[str]) -> None:
    report = Dataset.from_jsonl(DATA / name).validate()
    assert report.format == fmt
    assert {t for t in report.targets if report.ok_for(t)} == ok_targets
