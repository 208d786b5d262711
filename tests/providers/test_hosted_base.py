"""What the three hosted adapters share through HostedProvider: one rule for unknown
provider_options, no swallowed keyword arguments, an injectable sleep, one settings path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from hosted_helpers import JOB_SECONDS, make_provider, spec_for, write_dataset

from tuneport._config import ProviderSettings
from tuneport._exceptions import ConfigError, UnsupportedFeatureError
from tuneport._extras import MissingDependencyError
from tuneport._models import JobStatus, RemoteFile
from tuneport.providers._hosted import HostedProvider
from tuneport.providers.fireworks import FireworksProvider
from tuneport.providers.openai import OpenAIProvider
from tuneport.providers.together import TogetherProvider

OFFLINE = "http://127.0.0.1:9"


def offline(name: str, **kwargs: Any) -> HostedProvider:
    if name == "openai":
        return OpenAIProvider(api_key="sk-test-key-000", base_url=OFFLINE + "/v1", **kwargs)
    if name == "together":
        return TogetherProvider(api_key="tgp-test-key-000", base_url=OFFLINE, **kwargs)
    return FireworksProvider(api_key="fw-test-key-000", account_id="acct", base_url=OFFLINE,
                             **kwargs)


def create_params(provider: HostedProvider, **spec: Any) -> dict[str, Any]:
    """The create arguments with the extra body fields under ``extra_body``."""
    file = RemoteFile(provider=provider.name, id="file-1")
    built = provider.build_create_params(  # type: ignore[attr-defined]
        file, spec_for(provider.name, **spec), "key")
    if isinstance(built, tuple):  # OpenAI returns (kwargs, extra_body)
        kwargs, extra = built
        return {**kwargs, "extra_body": extra} if extra else dict(kwargs)
    return dict(built)


NAMES = ["openai", "together", "fireworks"]
#: One option each adapter knows, so the rule is seen letting known ones through.
KNOWN = {"openai": "learning_rate_multiplier", "together": "warmup_ratio",
         "fireworks": "max_context_length"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["lora", "dpo-lora"])
def test_an_unknown_provider_option_is_refused_with_the_known_ones(name: str,
                                                                   method: str) -> None:
    provider = offline(name)
    with pytest.raises(UnsupportedFeatureError) as info:
        create_params(provider, method=method, provider_options={"warmup_ratoi": 0.1})
    message = str(info.value)
    assert message.startswith(f"{name} does not know the provider option(s) 'warmup_ratoi'")
    assert "extra_body" in message
    # Fireworks' DPO jobs are another API, with their own fields.
    known = "training_config" if (name, method) == ("fireworks", "dpo-lora") else KNOWN[name]
    assert known in message.partition("options it takes:")[2]


@pytest.mark.parametrize("name", NAMES)
def test_known_options_and_extra_body_pass_through(name: str) -> None:
    provider = offline(name)
    kwargs = create_params(provider, provider_options={
        KNOWN[name]: 2, "extra_body": {"fieldNewerThanTheSdk": True}})
    assert kwargs["extra_body"] == {"fieldNewerThanTheSdk": True}
    flat = repr(kwargs)
    assert KNOWN[name] in flat


@pytest.mark.parametrize("name", NAMES)
def test_extra_body_must_be_a_dict(name: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match="extra_body"):
        create_params(offline(name), provider_options={"extra_body": ["x"]})


@pytest.mark.parametrize("name", NAMES)
def test_a_misspelled_constructor_argument_is_not_swallowed(name: str) -> None:
    with pytest.raises(TypeError, match="timout"):
        offline(name, timout=5.0)


@pytest.mark.parametrize(("name", "status", "done"), [
    ("together", "PROCESSING", "COMPLETED"),
    ("fireworks", "UPLOADING", "READY"),
])
def test_file_polling_waits_with_the_injected_sleep(
    name: str, status: str, done: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    provider = offline(name, sleep=waits.append)
    provider.file_poll_interval = 30.0  # a real sleep of this length would stall the test
    reads = iter([status, status, done])

    def refresh(file: RemoteFile) -> RemoteFile:
        return file.model_copy(update={"status": next(reads)})

    monkeypatch.setattr(provider, "refresh_file", refresh)
    ready = provider.wait_file_ready(RemoteFile(provider=name, id="f", status=status),
                                     timeout=3600)
    assert ready.status == done
    assert waits[0] == 30.0
    assert len(waits) == 3


def test_settings_fields_reach_the_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_PROJECT_ID", raising=False)
    together = TogetherProvider.from_settings(ProviderSettings(
        api_key="tgp-key", base_url=OFFLINE + "/v1", project_id="proj-1",
        multipart_threshold=1234))
    assert (together.project_id, together.multipart_threshold) == ("proj-1", 1234)
    assert together.base_url == OFFLINE
    fireworks = FireworksProvider.from_settings(ProviderSettings(
        api_key="fw-key", account_id="acct-9", base_url=OFFLINE))
    assert fireworks.account_id == "acct-9"


def test_fireworks_asks_for_the_key_before_the_account(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="FIREWORKS_API_KEY"):
        FireworksProvider(base_url=OFFLINE)


def test_a_missing_sdk_names_what_to_install() -> None:
    class Absent(OpenAIProvider):
        sdk_module: ClassVar[str] = "tuneport_test_no_such_sdk"

    with pytest.raises(MissingDependencyError, match="tuneport_test_no_such_sdk"):
        Absent(api_key="sk-key")


def test_restart_and_unpause_are_distinct() -> None:
    openai = offline("openai")
    assert hasattr(openai, "unpause_job")
    assert not hasattr(openai, "resume_job")
    with pytest.raises(UnsupportedFeatureError, match="restart"):
        openai.restart_job("ftjob-1")


def test_openai_pauses_and_unpauses(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("openai", emulator)
    assert isinstance(provider, OpenAIProvider)
    job = provider.create_job(provider.upload(write_dataset(tmp_path, "openai")),
                              spec_for("openai"), "pause-key")
    for _ in range(20):  # until the emulated job runs
        if provider.get_job(job.id).status is JobStatus.RUNNING:
            break
        emulator.advance(JOB_SECONDS / 20)
    assert provider.pause_job(job.id).status is JobStatus.PAUSED
    # OpenAI's /resume: the paused job goes back to the queue, it does not restart.
    assert provider.unpause_job(job.id).status is JobStatus.QUEUED
