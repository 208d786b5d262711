"""The catalog: built-in files pass the schema, names resolve, overrides merge per entry."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tuneport._exceptions import CatalogError, UnknownModelError, UnknownProviderError
from tuneport.catalog import (
    METHOD_KEYS,
    UnknownGpuError,
    builtin_data_dir,
    load_catalog,
    method_key,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_override(tmp_path: Path) -> Path:
    return tmp_path / "no-overrides"


def test_builtin_data_found_in_checkout() -> None:
    assert builtin_data_dir() == REPO / "providers"


def test_every_builtin_file_passes_schema(empty_override: Path) -> None:
    cat = load_catalog(empty_override)
    assert set(cat.provider_names) == {"openai", "together", "fireworks", "local"}
    assert set(cat.hosted_providers) == {"openai", "together", "fireworks"}
    for name in cat.provider_names:
        pc = cat.provider(name)
        assert pc.models, name
        assert pc.limits.as_of
        assert pc.limits.source
        for model in pc.models:
            assert model.methods, (name, model.canonical)
            for key, price in model.methods.items():
                assert key in METHOD_KEYS
                assert isinstance(price.usd_per_1m, Decimal)
                assert price.as_of <= date(2026, 11, 29)
                assert price.source.strip()
            if model.serving is not None:
                assert model.serving.as_of
                assert model.serving.source
    gpu_names = {g.name for g in cat.gpus}
    assert {"A10G", "L4", "RTX-4090", "A100-40GB", "A100-80GB", "H100-SXM", "H200"} <= gpu_names
    for gpu in cat.gpus:
        assert gpu.prices, gpu.name
        for offer in gpu.prices:
            assert offer.as_of
            assert offer.source
    compute = cat.compute
    assert compute.flops_per_token["sft-full"].k == 6.0
    assert compute.flops_per_token["sft-lora"].k == 4.0


def test_canonical_names_shared_and_provider_ids_resolve(empty_override: Path) -> None:
    cat = load_catalog(empty_override)
    t = cat.resolve_model("together", "llama-3.1-8b-instruct")
    f = cat.resolve_model("fireworks", "llama-3.1-8b-instruct")
    assert t.id == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    assert f.id == "accounts/fireworks/models/llama-v3p1-8b-instruct"
    # A provider's own id, any case, and another provider's id all work.
    assert cat.resolve_model("fireworks", "ACCOUNTS/fireworks/models/llama-v3p1-8b-instruct") == f
    assert cat.resolve_model("fireworks", t.id) == f
    assert cat.resolve_model("openai", "gpt-4o-mini-2024-07-18").canonical == "gpt-4o-mini"


def test_tier_prices_follow_total_params_for_moe(empty_override: Path) -> None:
    cat = load_catalog(empty_override)
    mixtral = cat.resolve_model("together", "mixtral-8x7b-instruct")
    assert mixtral.is_moe
    assert mixtral.active_params_b == 12.9
    # 46.7B total puts it in the 17B-69B tier although only 12.9B are active.
    assert mixtral.methods["sft-lora"].usd_per_1m == Decimal("1.50")
    assert mixtral.methods["sft-lora"].tier == "17b-69b"
    fw = cat.resolve_model("fireworks", "qwen3-235b-a22b")
    assert fw.methods["sft-lora"].usd_per_1m == Decimal("6.00")
    assert fw.methods["sft-lora"].min_charge_usd == Decimal("3.00")
    assert fw.methods["sft-lora"].min_charge_confirmed is False


def test_unknown_names_get_suggestions(empty_override: Path) -> None:
    cat = load_catalog(empty_override)
    with pytest.raises(UnknownModelError) as err:
        cat.resolve_model("together", "llama-3.1-8b")
    assert err.value.suggestions[0] == "llama-3.1-8b-instruct"
    with pytest.raises(UnknownModelError, match="offered by: openai"):
        cat.resolve_model("fireworks", "gpt-4o-mini")
    with pytest.raises(UnknownProviderError) as perr:
        cat.provider("togther")
    assert perr.value.suggestions == ["together"]
    with pytest.raises(UnknownGpuError) as gerr:
        cat.gpu("H10")
    assert "H100-SXM" in gerr.value.suggestions or "H200" in gerr.value.suggestions
    assert cat.gpu("h100").name == "H100-SXM"


def test_local_accepts_unlisted_models(empty_override: Path) -> None:
    cat = load_catalog(empty_override)
    entry = cat.resolve_model("local", "/models/my-llama")
    assert entry.known is False
    assert entry.params_b is None
    assert set(entry.methods) == {"sft-lora", "sft-full", "sft-qlora", "dpo-lora", "dpo-full"}
    assert entry.unsupported == {}
    listed = cat.resolve_model("local", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert listed.canonical == "smollm2-135m-instruct"
    assert listed.params_b == pytest.approx(0.1345)
    # A hosted provider id maps to the local entry of the same canonical model.
    assert cat.resolve_model("local", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference").canonical \
        == "llama-3.1-8b-instruct"


def test_limits_and_availability(empty_override: Path) -> None:
    cat = load_catalog(empty_override)
    assert cat.provider("openai").limits.min_examples == 10
    assert cat.provider("fireworks").limits.min_examples == 3
    assert cat.provider("fireworks").limits.max_examples == 3_000_000
    assert cat.provider("together").limits.requires_alternation is True
    assert "preference" in cat.provider("local").limits.formats  # local DPO
    assert cat.provider("openai").new_jobs_until == date(2027, 1, 6)
    mini = cat.resolve_model("openai", "gpt-4o-mini")
    assert mini.training_available_until == date(2027, 1, 6)
    assert mini.shutdown_date == date(2027, 1, 14)
    assert mini.serving is not None
    assert mini.serving.kind == "per_1m_tokens"
    together = cat.resolve_model("together", "qwen2.5-7b-instruct")
    assert together.serving is not None
    assert together.serving.kind == "per_gpu_hour"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("lora", "sft-lora"), ("full", "sft-full"), ("QLoRA", "sft-qlora"), ("dpo-full", "dpo-full")],
)
def test_method_key(given: str, expected: str) -> None:
    assert method_key(given) == expected


def test_override_merges_per_entry_and_is_never_written(tmp_path: Path) -> None:
    override = tmp_path / "overrides"
    override.mkdir()
    text = (
        "[[tiers]]\n"
        'name = "up-to-16b"\n'
        'prices = { sft-lora = 0.40 }\n'
        "as_of = 2026-11-28\n"
        'source = "my negotiated rate"\n'
        "\n[[models]]\n"
        'canonical = "llama-3.1-8b-instruct"\n'
        "context_length = 8192\n"
        "\n[[models]]\n"
        'canonical = "my-custom-7b"\n'
        'id = "me/custom-7b"\n'
        "params_b = 7.0\n"
        'methods = ["sft-lora"]\n'
    )
    (override / "together.toml").write_text(text)
    before = {p: p.stat().st_mtime_ns for p in override.iterdir()}
    cat = load_catalog(override)
    llama = cat.resolve_model("together", "llama-3.1-8b-instruct")
    # Only the overridden keys changed; the rest of the entry and tier survive.
    assert llama.context_length == 8192
    assert llama.id == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    assert llama.methods["sft-lora"].usd_per_1m == Decimal("0.40")
    assert llama.methods["sft-lora"].source == "my negotiated rate"
    assert llama.methods["sft-full"].usd_per_1m == Decimal("0.54")
    assert cat.resolve_model("together", "me/custom-7b").methods["sft-lora"].tier == "up-to-16b"
    assert cat.sources["together"][-1] == override / "together.toml"
    assert {p: p.stat().st_mtime_ns for p in override.iterdir()} == before


def test_override_of_gpu_price_by_cloud(tmp_path: Path) -> None:
    override = tmp_path / "o"
    override.mkdir()
    (override / "gpus.toml").write_text(
        '[[gpus]]\nname = "H100-SXM"\nprices = [{ cloud = "runpod-secure", usd_per_hour = "2.00",'
        ' as_of = 2026-11-28, source = "me" }]\n'
    )
    gpu = load_catalog(override).gpu("H100-SXM")
    by_cloud = {p.cloud: p for p in gpu.prices}
    assert by_cloud["runpod-secure"].usd_per_hour == Decimal("2.00")
    assert by_cloud["runpod-community"].usd_per_hour == Decimal("2.69")


def test_override_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    override = tmp_path / "env-o"
    override.mkdir()
    (override / "openai.toml").write_text('[limits]\nmin_examples = 50\n')
    monkeypatch.setenv("TUNEPORT_CATALOG_DIR", str(override))
    assert load_catalog().provider("openai").limits.min_examples == 50


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[limits]\nmin_exampels = 3\n", "min_exampels"),
        ("[limits\n", "not valid TOML"),
        ('[[models]]\ncanonical = "gpt-4o-mini"\ntokenizer = "sentencepiece"\n', "tokenizer"),
        ("[limits]\nmin_examples = 0\n", "min_examples"),
    ],
)
def test_bad_override_is_a_clear_catalog_error(tmp_path: Path, text: str, needle: str) -> None:
    override = tmp_path / "bad"
    override.mkdir()
    (override / "openai.toml").write_text(text)
    with pytest.raises(CatalogError, match=needle) as err:
        load_catalog(override)
    assert "openai.toml" in str(err.value)


def test_price_without_source_is_rejected(tmp_path: Path) -> None:
    builtin = tmp_path / "data"
    shutil.copytree(REPO / "providers", builtin)
    path = builtin / "together.toml"
    path.write_text(path.read_text().replace(
        'source = "third-party copy of together.ai/pricing, ~2026-02 [S]"\n', "", 1))
    with pytest.raises(CatalogError, match="source"):
        load_catalog(tmp_path / "none", builtin_dir=builtin)


def test_model_without_price_is_rejected(tmp_path: Path) -> None:
    builtin = tmp_path / "data"
    shutil.copytree(REPO / "providers", builtin)
    (builtin / "fireworks.toml").write_text(
        (builtin / "fireworks.toml").read_text()
        + '\n[[models]]\ncanonical = "x"\nid = "x"\nmethods = ["sft-qlora"]\nparams_b = 1\n'
    )
    with pytest.raises(CatalogError, match="no price covers it"):
        load_catalog(tmp_path / "none", builtin_dir=builtin)
