"""fine_tune(..., method="dpo-lora") on each hosted provider, through the official SDKs,
against the emulator: one preference dataset, each provider's own DPO request (OpenAI's
method.dpo, Together's training_method dpo, Fireworks' dpoJobs API), idempotent, waited,
its events read, deployed and called like a supervised job."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("openai")
pytest.importorskip("together")
pytest.importorskip("fireworks")

from tuneport._exceptions import DatasetError, UnsupportedFeatureError
from tuneport._models import EndpointState, JobStatus
from tuneport.client.client import Client, ProviderAvailabilityWarning
from tuneport.emulator import Emulator, ManualClock, running
from tuneport.testing import tiny_preference_examples

PROVIDERS = ("openai", "together", "fireworks")
MODELS = {"openai": "gpt-4o-mini", "together": "llama-3.1-8b-instruct",
          "fireworks": "llama-3.1-8b-instruct"}


def _beta_sent(provider: str, raw: dict[str, Any]) -> Any:
    """Where each provider's job object says which beta it trains with."""
    if provider == "openai":
        return raw["method"]["dpo"]["hyperparameters"]["beta"]
    if provider == "together":
        return raw["training_method"]["dpo_beta"]
    return raw["lossConfig"]["dpo"]["beta"]


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    settings = {"job_seconds": 100.0, "file_seconds": 0.0, "deploy_seconds": 0.0}
    with running(clock=ManualClock(), **settings) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TOGETHER_PROJECT_ID", "proj-tuneport-tests")
        yield emulator


@contextlib.contextmanager
def _quiet_wind_down() -> Iterator[None]:
    # OpenAI's models carry the catalog's wind-down warning; it is tested elsewhere.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderAvailabilityWarning)
        yield


def _client(emu: Emulator, provider: str) -> Client:
    client = Client(provider=provider)
    client._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
    return client


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dpo_lora_runs_like_a_supervised_job(emu: Emulator, provider: str) -> None:
    pairs = tiny_preference_examples(16)
    with _client(emu, provider) as client, _quiet_wind_down():
        job = client.fine_tune(pairs, model=MODELS[provider], method="dpo-lora", beta=0.2,
                               epochs=1)
        assert _beta_sent(provider, job.raw) == 0.2
        again = client.fine_tune(pairs, model=MODELS[provider], method="dpo-lora", beta=0.2,
                                 epochs=1)
        assert again.id == job.id
        other = client.fine_tune(pairs, model=MODELS[provider], method="dpo-lora", beta=0.3,
                                 epochs=1)
        assert other.id != job.id  # beta is part of the job's identity
        done = client.wait(job, poll=10)
        assert done.status is JobStatus.SUCCEEDED
        assert done.fine_tuned_model
        assert len(client.events(done)) >= 2
        assert job.id in [j.id for j in client.jobs(provider)]
        deployed = client.deploy(f"{provider}:{job.id}")
        assert deployed.state is EndpointState.READY


def test_fireworks_dpo_job_is_cancelled_through_its_own_api(emu: Emulator) -> None:
    with _client(emu, "fireworks") as client:
        job = client.fine_tune(tiny_preference_examples(8), model="llama-3.1-8b-instruct",
                               method="dpo-lora")
        assert job.id.startswith("tp-dpo-")
        assert job.raw["name"].split("/")[-2] == "dpoJobs"
        assert job.raw["lossConfig"] == {"method": "DPO"}  # beta left to Fireworks
        emu.advance(20)
        client.cancel(job)
        emu.advance(30)
        assert client.get_job(job).status is JobStatus.CANCELLED


@pytest.mark.parametrize(("provider", "beta", "words"), [
    ("fireworks", 0.5, "between 0 and 0.5"), ("openai", 2.5, "(0, 2]")])
def test_a_beta_the_provider_refuses_is_refused(
        emu: Emulator, provider: str, beta: float, words: str) -> None:
    with _client(emu, provider) as client, _quiet_wind_down(), pytest.raises(
            UnsupportedFeatureError, match=words.replace("(", r"\(").replace("]", r"\]")):
        client.fine_tune(tiny_preference_examples(12), model=MODELS[provider],
                         method="dpo-lora", beta=beta)


def test_dpo_full_on_fireworks_is_refused_with_the_reason(emu: Emulator) -> None:
    with _client(emu, "fireworks") as client, pytest.raises(UnsupportedFeatureError,
                                                            match="full-parameter DPO"):
        client.fine_tune(tiny_preference_examples(8), model="llama-3.1-8b-instruct",
                         method="dpo-full")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_chat_file_for_dpo_is_refused_with_the_fix(emu: Emulator, provider: str) -> None:
    chat = [{"messages": [{"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": f"a{i}"}]} for i in range(12)]
    with _client(emu, provider) as client, _quiet_wind_down(), pytest.raises(
            DatasetError, match="trains on preference pairs"):
        client.fine_tune(chat, model=MODELS[provider], method="dpo-lora")


def test_together_length_normalization_passes_as_a_provider_option(emu: Emulator) -> None:
    with _client(emu, "together") as client:
        job = client.fine_tune(tiny_preference_examples(12), model="llama-3.1-8b-instruct",
                               method="dpo-lora", beta=0.1,
                               dpo_normalize_logratios_by_length=True)
        method = job.raw["training_method"]
        assert method["method"] == "dpo"
        assert method["dpo_normalize_logratios_by_length"] is True
        assert method["dpo_beta"] == 0.1
