"""Renderers: each target's wire JSONL, fingerprints of the bytes, refusal on errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tuneport._exceptions import ValidationFailedError
from tuneport._models import RenderedDataset
from tuneport.dataset import Dataset

from .conftest import chat


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.mark.parametrize("target", ["openai", "together", "fireworks", "local"])
def test_chat_renders_for_every_target(tmp_path: Path, target: str) -> None:
    recs = [{"messages": [{"content": f"q{i}", "role": "user", "extra": 1},
                          {"role": "assistant", "content": [{"type": "text", "text": "a"}],
                           "weight": 1}]} for i in range(12)]
    out = Dataset.from_records(recs).render(target, tmp_path)
    assert isinstance(out, RenderedDataset)
    assert out.provider == target
    assert out.n_examples == 12
    assert out.format == "chat"
    data = out.path.read_bytes()
    assert out.fingerprint == hashlib.sha256(data).hexdigest()
    assert out.n_bytes == len(data)
    first = _lines(out.path)[0]
    assert first == {"messages": [{"role": "user", "content": "q0"},
                                  {"role": "assistant", "content": "a", "weight": 1}]}


def test_fireworks_turns_prompt_completion_into_messages(tmp_path: Path) -> None:
    recs = [{"prompt": f"p{i}", "completion": "c"} for i in range(3)]
    out = Dataset.from_records(recs).render("fireworks", tmp_path)
    assert _lines(out.path)[0] == {"messages": [{"role": "user", "content": "p0"},
                                                {"role": "assistant", "content": "c"}]}
    together = Dataset.from_records(recs).render("together", tmp_path)
    assert _lines(together.path)[0] == {"prompt": "p0", "completion": "c"}
    assert together.format == "completion"


def test_render_refuses_a_dataset_with_errors(tmp_path: Path) -> None:
    ds = Dataset.from_records([chat()] * 3)  # openai needs 10
    with pytest.raises(ValidationFailedError) as exc:
        ds.render("openai", tmp_path)
    assert exc.value.report.errors_for("openai")[0].code == "too_few_examples"
    assert not (tmp_path / "openai-train.jsonl").exists()
    ds.render("together", tmp_path)  # fine there


def test_validation_split_is_deterministic(tmp_path: Path) -> None:
    ds = Dataset.from_records([chat(f"q{i}") for i in range(20)])
    out = ds.render("local", tmp_path, validation_fraction=0.25)
    assert out.n_examples == 15
    assert out.validation_path is not None
    assert len(_lines(out.validation_path)) == 5
    again = ds.render("local", tmp_path / "b", validation_fraction=0.25)
    assert again.fingerprint == out.fingerprint


def test_preference_renders_openai_dpo_lines(tmp_path: Path) -> None:
    pref = {"input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}]}
    out = Dataset.from_records([pref] * 10).render("openai", tmp_path)
    assert _lines(out.path)[0] == pref
    assert out.format == "preference"
