"""Together adapter specifics: base URL, suffix idempotency, parameter mapping, quote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hosted_helpers import JOB_SECONDS, make_provider, spec_for, write_dataset

from tuneport._exceptions import ConfigError, DatasetError, UnsupportedFeatureError
from tuneport._models import RemoteFile, WandbConfig
from tuneport.providers.together import SUFFIX_MAX, TogetherProvider

FILE = RemoteFile(provider="together", id="file-abc")


@pytest.fixture
def offline() -> TogetherProvider:
    return TogetherProvider(api_key="tgp-test-key-000", base_url="http://127.0.0.1:9/v1")


def test_trailing_v1_is_removed(offline: TogetherProvider) -> None:
    # together 3.x adds /v1 itself; a base URL with /v1 would call /v1/v1/...
    assert offline.base_url == "http://127.0.0.1:9"
    assert offline.inference_base_url == "http://127.0.0.1:9/v1"


def test_suffix_carries_the_key_token_within_40_characters() -> None:
    long = TogetherProvider.suffix_for("a-rather-long-suffix-that-goes-on-and-on", "k1")
    assert len(long) <= SUFFIX_MAX
    assert long.endswith(TogetherProvider.suffix_for(None, "k1"))
    assert TogetherProvider.suffix_for(None, "k1") != TogetherProvider.suffix_for(None, "k2")


def test_spec_maps_to_sdk_arguments(offline: TogetherProvider) -> None:
    spec = spec_for("together", epochs=3, learning_rate=2e-5, batch_size="max", lora_rank=16,
                    lora_alpha=32, seed=3, provider_options={"warmup_ratio": 0.1})
    kwargs = offline.build_create_params(FILE, spec, "k")
    assert kwargs | {"suffix": None} == kwargs | {
        "training_file": "file-abc", "lora": True, "lora_r": 16, "lora_alpha": 32,
        "n_epochs": 3, "learning_rate": 2e-5, "batch_size": "max", "random_seed": 3,
        "training_method": "sft", "warmup_ratio": 0.1, "suffix": None,
    }
    full = offline.build_create_params(FILE, spec_for("together", method="dpo-full"), "k")
    assert full["lora"] is False
    assert full["training_method"] == "dpo"


@pytest.mark.parametrize(("fields", "named"), [
    ({"method": "qlora"}, "qlora"),
    ({"epochs": "auto"}, "epochs"),
    ({"batch_size": "auto"}, "batch_size"),
    ({"method": "full", "lora_rank": 8}, "lora_rank"),
    ({"provider_options": {"no_such_option": 1}}, "no_such_option"),
])
def test_unsupported_settings_name_provider_and_parameter(
    offline: TogetherProvider, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(UnsupportedFeatureError, match=named) as info:
        offline.build_create_params(FILE, spec_for("together", **fields), "k")
    assert "together" in str(info.value)


def test_wandb_needs_a_key(offline: TogetherProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_for("together", wandb=WandbConfig(project="p", name="run"))
    with pytest.raises(ConfigError, match="WANDB_API_KEY"):
        offline.build_create_params(FILE, spec, "k")
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret")
    kwargs = offline.build_create_params(FILE, spec, "k")
    assert kwargs["wandb_api_key"] == "wandb-secret"
    assert kwargs["wandb_project_name"] == "p"
    assert kwargs["wandb_name"] == "run"


def test_quote_checkpoints_metrics_and_cost(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("together", emulator)
    remote = provider.upload(write_dataset(tmp_path, "together"))
    emulator.advance(2)
    remote = provider.wait_file_ready(remote, timeout=5)
    quote = provider.quote(remote, spec_for("together", epochs=2))
    assert quote.available
    assert quote.total_usd is not None
    assert quote.total_usd > 0
    assert quote.train_tokens
    job = provider.create_job(remote, spec_for("together", epochs=2, lora_rank=8), "k-q")
    assert job.hyperparameters["lora_r"] == 8
    assert job.hyperparameters["n_epochs"] == 2
    emulator.advance(JOB_SECONDS + 1)
    done = provider.get_job(job.id)
    assert done.actual_cost_usd is not None
    assert done.actual_cost_usd > 0
    assert done.progress == 1.0
    assert provider.checkpoints(job.id)
    metrics = provider.metrics(job.id)
    assert metrics
    assert any(m.train_loss is not None for m in metrics)


def test_rejected_file_is_a_dataset_error(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("together", emulator)
    rendered = write_dataset(tmp_path, "together")
    rendered.path.write_text('{"messages": "not a list"}\n' * 3)
    remote = provider.upload(rendered)
    emulator.advance(2)
    with pytest.raises(DatasetError, match="together rejected"):
        provider.wait_file_ready(remote, timeout=5)


def test_deploy_needs_a_project(emulator: Any, tmp_path: Path) -> None:
    provider = TogetherProvider(api_key=emulator.api_key, base_url=emulator.together_base_url,
                                file_poll_interval=0.0)
    remote = provider.upload(write_dataset(tmp_path, "together"))
    emulator.advance(2)
    job = provider.create_job(provider.wait_file_ready(remote, timeout=5),
                              spec_for("together"), "k-p")
    emulator.advance(JOB_SECONDS + 1)
    with pytest.raises(ConfigError, match="TOGETHER_PROJECT_ID"):
        provider.deploy(provider.get_job(job.id))
