"""OpenAI adapter specifics: parameter mapping, idempotency metadata, the wind-down error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hosted_helpers import JOB_SECONDS, make_provider, spec_for, write_dataset

from tuneport._exceptions import (
    AuthenticationError,
    MissingCredentialsError,
    ProviderUnavailableError,
    UnsupportedFeatureError,
)
from tuneport._models import RemoteFile, WandbConfig
from tuneport.providers.openai import IDEMPOTENCY_METADATA_KEY, OpenAIProvider

FILE = RemoteFile(provider="openai", id="file-abc")


@pytest.fixture
def offline() -> OpenAIProvider:
    return OpenAIProvider(api_key="sk-test-key-000", base_url="http://127.0.0.1:9/v1")


def test_spec_maps_to_supervised_method_with_metadata_key(offline: OpenAIProvider) -> None:
    spec = spec_for("openai", epochs=3, batch_size=8, suffix="support", seed=7,
                    provider_options={"learning_rate_multiplier": 2.0,
                                      "extra_body": {"shiny_new_field": 1}})
    kwargs, extra = offline.build_create_params(FILE, spec, "my-key")
    assert kwargs["method"] == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 2.0}}}
    assert kwargs["metadata"] == {IDEMPOTENCY_METADATA_KEY: "my-key"}
    assert kwargs["suffix"] == "support"
    assert kwargs["seed"] == 7
    assert extra == {"shiny_new_field": 1}


def test_dpo_and_wandb(offline: OpenAIProvider) -> None:
    spec = spec_for("openai", method="dpo-lora", provider_options={"beta": 0.2},
                    wandb=WandbConfig(project="p", entity="e", name="run", tags=("a",)))
    kwargs, _ = offline.build_create_params(FILE, spec, "k")
    assert kwargs["method"]["type"] == "dpo"
    assert kwargs["method"]["dpo"]["hyperparameters"] == {"beta": 0.2}
    assert kwargs["integrations"] == [{"type": "wandb", "wandb": {
        "project": "p", "entity": "e", "name": "run", "tags": ["a"]}}]


@pytest.mark.parametrize(("field", "value", "named"), [
    ("learning_rate", 1e-4, "learning_rate"),
    ("lora_rank", 16, "lora_rank"),
    ("method", "full", "full"),
    ("method", "dpo-full", "dpo-full"),
    ("batch_size", "max", "batch_size"),
])
def test_unsupported_settings_name_provider_and_parameter(
    offline: OpenAIProvider, field: str, value: Any, named: str
) -> None:
    with pytest.raises(UnsupportedFeatureError, match=named) as info:
        offline.build_create_params(FILE, spec_for("openai", **{field: value}), "k")
    assert "openai" in str(info.value)


def test_permission_denied_on_create_explains_the_wind_down(
    emulator: Any, tmp_path: Path
) -> None:
    import openai

    provider = make_provider("openai", emulator)
    assert isinstance(provider, OpenAIProvider)
    remote = provider.upload(write_dataset(tmp_path, "openai"))
    # The emulator answers the create with the 403 a closed organisation gets.
    emulator.openai_fine_tuning_closed = True
    with pytest.raises(ProviderUnavailableError, match="2027-01-06") as info:
        provider.create_job(remote, spec_for("openai"), "idem-closed")
    assert info.value.status_code == 403
    assert info.value.code == "permission_denied"
    assert "winding down" in str(info.value)
    real = info.value.__cause__
    assert isinstance(real, openai.PermissionDeniedError)
    assert [x.status for x in emulator.exchanges if x.route == "/fine_tuning/jobs"
            and x.method == "POST"] == [403]
    assert list(provider.list_jobs()) == []
    # Elsewhere the same 403 stays an authentication problem.
    with pytest.raises(AuthenticationError), provider._errors("reading job x"):
        raise real


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        OpenAIProvider(base_url="http://127.0.0.1:9/v1")


def test_repr_hides_the_key(offline: OpenAIProvider) -> None:
    assert "sk-test-key-000" not in repr(offline)


def test_key_options_and_checkpoints_reach_the_service(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("openai", emulator)
    remote = provider.upload(write_dataset(tmp_path, "openai"))
    spec = spec_for("openai", epochs=2, provider_options={"learning_rate_multiplier": 2.0},
                    wandb=WandbConfig(project="tuneport-tests"))
    job = provider.create_job(remote, spec, "idem-42")
    assert job.idempotency_key == "idem-42"
    assert job.hyperparameters["learning_rate_multiplier"] == 2.0
    assert job.raw["integrations"][0]["wandb"]["project"] == "tuneport-tests"
    emulator.advance(JOB_SECONDS + 1)
    done = provider.get_job(job.id)
    assert done.trained_tokens
    checkpoints = provider.checkpoints(job.id)
    assert checkpoints
    assert checkpoints[-1].model
    metrics = provider.metrics(job.id)
    assert metrics
    assert metrics[0].train_loss is not None


def test_find_job_filters_by_metadata_on_the_server(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("openai", emulator)
    remote = provider.upload(write_dataset(tmp_path, "openai"))
    jobs = {key: provider.create_job(remote, spec_for("openai"), key)
            for key in ("key-a", "key-b", "key-c")}
    before = len(emulator.exchanges)
    found = provider.find_job("key-b")
    assert found is not None
    assert found.id == jobs["key-b"].id
    # One list request, and the service itself answered with only the matching job: the
    # filter travelled as metadata[tuneport_key]=key-b (a client-side filter alone would
    # have received all three).
    lists = [x for x in emulator.exchanges[before:]
             if x.method == "GET" and x.route == "/fine_tuning/jobs"]
    assert len(lists) == 1
    assert [j["id"] for j in lists[0].body["data"]] == [jobs["key-b"].id]
    assert provider.find_job("key-missing") is None
