"""Fireworks adapter specifics: chosen ids, 409 adoption, estimateCost, synthesized events."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hosted_helpers import JOB_SECONDS, make_provider, spec_for, write_dataset

from tuneport._exceptions import ConfigError, UnsupportedFeatureError
from tuneport._models import JobStatus, RemoteFile, WandbConfig
from tuneport.providers._hosted import money_to_decimal
from tuneport.providers.fireworks import FireworksProvider

FILE = RemoteFile(provider="fireworks", id="tp-ds-1")
ID_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


@pytest.fixture
def offline() -> FireworksProvider:
    return FireworksProvider(api_key="fw-test-key-000", account_id="acct",
                             base_url="http://127.0.0.1:9")


def test_ids_are_valid_and_stable() -> None:
    for make in (FireworksProvider.job_id_for, FireworksProvider.dataset_id_for):
        assert ID_RE.match(make("Any key: with spaces & symbols!"))
        assert make("a") == make("a")
        assert make("a") != make("b")


def test_account_id_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="FIREWORKS_ACCOUNT_ID"):
        FireworksProvider(api_key="fw-key", base_url="http://127.0.0.1:9")


def test_spec_maps_to_job_fields(offline: FireworksProvider,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret")
    spec = spec_for("fireworks", epochs=2, learning_rate=1e-4, lora_rank=16, batch_size=32,
                    suffix="Support Bot", wandb=WandbConfig(project="p", entity="e"),
                    provider_options={"max_context_length": 4096,
                                      "extra_body": {"newField": True}})
    kwargs = offline.build_create_params(FILE, spec, "k")
    assert kwargs["dataset"] == "accounts/acct/datasets/tp-ds-1"
    assert kwargs["supervised_fine_tuning_job_id"] == FireworksProvider.job_id_for("k")
    assert (kwargs["epochs"], kwargs["learning_rate"], kwargs["lora_rank"]) == (2, 1e-4, 16)
    assert kwargs["batch_size_samples"] == 32
    assert ID_RE.match(kwargs["output_model"])
    assert kwargs["output_model"].startswith("support-bot-")
    assert kwargs["wandb_config"] == {"enabled": True, "project": "p", "entity": "e",
                                      "api_key": "wandb-secret"}
    assert kwargs["max_context_length"] == 4096
    assert kwargs["extra_body"] == {"newField": True}


@pytest.mark.parametrize(("fields", "named"), [
    ({"method": "full"}, "full"),
    ({"method": "dpo-full"}, "dpo-full"),  # DPO is LoRA only (dpoJobs)
    ({"lora_alpha": 16}, "lora_alpha"),
    ({"seed": 1}, "seed"),
    ({"epochs": "auto"}, "epochs"),
])
def test_unsupported_settings_name_provider_and_parameter(
    offline: FireworksProvider, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(UnsupportedFeatureError, match=named) as info:
        offline.build_create_params(FILE, spec_for("fireworks", **fields), "k")
    assert "fireworks" in str(info.value)


def test_money() -> None:
    assert money_to_decimal({"currencyCode": "USD", "units": "12", "nanos": 500000000}) == \
        Decimal("12.5")
    assert money_to_decimal({"currencyCode": "EUR", "units": "1"}) is None
    assert money_to_decimal(None) is None


def test_repeated_create_and_upload_are_adopted(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("fireworks", emulator)
    rendered = write_dataset(tmp_path, "fireworks")
    first = provider.upload(rendered)
    emulator.advance(2)
    first = provider.wait_file_ready(first, timeout=5)
    again = provider.upload(rendered)  # same content: the READY dataset is reused (409)
    assert again.id == first.id
    assert again.status == "READY"
    job = provider.create_job(first, spec_for("fireworks"), "same-key")
    assert provider.create_job(first, spec_for("fireworks"), "same-key").id == job.id
    assert len(list(provider.list_jobs())) == 1


def test_quote_cost_and_synthesized_events(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("fireworks", emulator)
    remote = provider.upload(write_dataset(tmp_path, "fireworks"))
    emulator.advance(2)
    remote = provider.wait_file_ready(remote, timeout=5)
    quote = provider.quote(remote, spec_for("fireworks", epochs=2))
    assert quote.total_usd is not None
    assert quote.total_usd > 0
    job = provider.create_job(remote, spec_for("fireworks", epochs=2), "k-e")
    assert job.estimated_cost_usd is not None
    emulator.advance(JOB_SECONDS + 1)
    done = provider.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.fine_tuned_model == f"accounts/acct-test/models/{job.id}"
    events = provider.events(job.id)
    assert events[0].type == "job_created"
    assert events[-1].message.startswith("state JOB_STATE_COMPLETED")
