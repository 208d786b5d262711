"""Catalog values checked against what tuneport did not write (issue: provider truth).

Each figure here has a dated source in the provider files; the tests pin the corrected
values, keep the training limit apart from the inference context, hold the catalog's methods
to what each adapter can submit, and check OpenAI's ids against the SDK's own model list.
"""

from __future__ import annotations

import json
import typing
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tuneport._exceptions import CatalogError
from tuneport._models import Capability
from tuneport.catalog import load_catalog
from tuneport.dataset import Dataset
from tuneport.providers.registry import get_provider_class

HOSTED = ("openai", "together", "fireworks")


@pytest.fixture
def no_overrides(tmp_path: Path) -> Path:
    return tmp_path / "none"


@pytest.mark.parametrize(("model", "trains", "serves"), [
    ("llama-3.1-70b-instruct", 24576, 131072),
    ("qwen3-30b-a3b", 8192, 32768),
    ("qwen2.5-72b-instruct", 24576, 32768),
    ("llama-3.1-8b-instruct", 131072, 131072),
])
def test_together_training_limits_are_not_the_inference_context(
        no_overrides: Path, model: str, trains: int, serves: int) -> None:
    entry = load_catalog(no_overrides).resolve_model("together", model)
    assert entry.max_tokens_per_example == trains
    assert entry.context_length == serves
    assert entry.max_tokens_source


def test_validation_uses_the_training_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_CATALOG_DIR", str(tmp_path / "none"))
    # About 12K words: over Qwen3-30B-A3B's 8K training limit at Together, well inside the
    # 32K it serves (and inside Llama 3.1 8B's 128K training limit).
    long_answer = " ".join(f"word{i % 50}" for i in range(12_000))
    path = tmp_path / "long.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": long_answer if i == 0 else "ok"}]}
            for i in range(3)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    tight = Dataset.from_jsonl(path).validate("together", model="qwen3-30b-a3b", workers=1)
    assert [i.line for i in tight.issues if i.code == "too_many_tokens"] == [1]
    roomy = Dataset.from_jsonl(path).validate("together", model="llama-3.1-8b-instruct",
                                              workers=1)
    assert not [i for i in roomy.issues if i.code == "too_many_tokens"]


def test_fireworks_serving_prices_as_published(no_overrides: Path) -> None:
    serving = load_catalog(no_overrides).provider("fireworks").serving
    assert serving is not None
    assert {o.gpu: o.usd_per_hour for o in serving.options} == {
        "H100-SXM": Decimal("8.00"), "H200": Decimal("8.00"), "B200": Decimal("13.00")}
    assert serving.as_of == date(2026, 10, 7)


@pytest.mark.parametrize("provider", HOSTED)
def test_catalog_methods_match_what_the_adapter_submits(no_overrides: Path,
                                                        provider: str) -> None:
    # A method the adapter refuses must not be listed (estimates would offer it), and
    # the refusal must say why.
    can_dpo = Capability.DPO in get_provider_class(provider).capabilities
    pc = load_catalog(no_overrides).provider(provider)
    for entry in pc.models:
        offers_dpo = any(m.startswith("dpo-") for m in entry.methods)
        assert offers_dpo <= can_dpo, f"{provider} {entry.canonical} lists DPO"
    if not can_dpo:
        assert "dpo-lora" in pc.unsupported


@pytest.mark.parametrize("provider", HOSTED)
def test_every_hosted_id_and_training_limit_has_a_source(no_overrides: Path,
                                                         provider: str) -> None:
    for entry in load_catalog(no_overrides).provider(provider).models:
        assert entry.id_source, f"{provider} {entry.id}: where was the id checked?"
        assert entry.max_tokens_per_example, f"{provider} {entry.id}: no training limit"
        assert entry.max_tokens_source


def test_openai_ids_are_in_the_sdk_model_list(no_overrides: Path) -> None:
    chat_model = pytest.importorskip("openai.types.shared.chat_model")
    known = set(typing.get_args(chat_model.ChatModel))
    ids = [e.id for e in load_catalog(no_overrides).provider("openai").models]
    assert ids
    assert [i for i in ids if i not in known] == []


def test_a_hosted_model_needs_a_training_limit_apart_from_its_context(tmp_path: Path) -> None:
    (tmp_path / "together.toml").write_text(
        '[[models]]\ncanonical = "new-model-8b"\nid = "someone/New-Model-8B"\n'
        'params_b = 8\ncontext_length = 65536\nmethods = ["sft-lora"]\n')
    with pytest.raises(CatalogError, match="no training limit"):
        load_catalog(tmp_path).provider("together")
