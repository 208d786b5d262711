"""The same contract, run against each hosted adapter with its real SDK and the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hosted_helpers import JOB_SECONDS, make_provider, spec_for, write_dataset

from tuneport._config import RetryPolicy
from tuneport._exceptions import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from tuneport._models import EndpointState, JobStatus
from tuneport.providers.base import Provider
from tuneport.providers.retrying import MAX_RETRY_AFTER, retrying

PROVIDERS = ["openai", "together", "fireworks"]


def _submit(provider: Provider, emu: Any, tmp_path: Path, key: str = "key-1", **spec: Any) -> Any:
    rendered = write_dataset(tmp_path, provider.name, tag=key)
    remote = provider.upload(rendered)
    emu.advance(2)  # Together/Fireworks validate or ingest the file first
    remote = provider.wait_file_ready(remote, timeout=5)
    return provider.create_job(remote, spec_for(provider.name, **spec), key), remote


@pytest.mark.parametrize("name", PROVIDERS)
def test_submit_wait_events_endpoint_deploy_chat(name: str, emulator: Any, tmp_path: Path) -> None:
    provider = make_provider(name, emulator)
    job, remote = _submit(provider, emulator, tmp_path, epochs=2)
    assert job.provider == name
    assert not job.is_terminal
    assert job.base_model
    assert remote.fingerprint

    found = provider.find_job("key-1")
    assert found is not None
    assert found.id == job.id
    assert provider.find_job("another-key") is None
    assert job.id in [j.id for j in provider.list_jobs(limit=10)]

    emulator.advance(JOB_SECONDS + 1)
    done = provider.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED, done.provider_status
    assert done.fine_tuned_model
    assert done.created_at is not None
    assert done.hyperparameters
    assert done.raw

    events = provider.events(job.id)
    assert events, "every provider reports at least the job's creation and its end"
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    assert provider.events(job.id, after=events[-1].id) == []
    if len(events) > 1:
        assert provider.events(job.id, after=events[0].id) == events[1:]

    endpoint = provider.endpoint(done)
    if name == "openai":
        assert endpoint.kind == "serverless"
        assert endpoint.state is EndpointState.READY
    else:
        assert endpoint.kind == "dedicated"
        assert endpoint.state is EndpointState.NOT_DEPLOYED
        endpoint = provider.deploy(done)
        assert endpoint.state is EndpointState.DEPLOYING
        assert endpoint.hourly_usd is not None
        assert endpoint.hourly_usd > 0
        emulator.advance(10)
        endpoint = provider.endpoint(done)
        assert endpoint.state is EndpointState.READY
        assert provider.deploy(done).deployment_id == endpoint.deployment_id  # reused
    assert "api_key" not in endpoint.model_dump()
    assert emulator.api_key not in repr(endpoint)

    with endpoint.openai_client(max_retries=0) as openai_client:
        chat = openai_client.chat.completions.create(
            model=endpoint.model, messages=[{"role": "user", "content": "2 plus 2?"}]
        )
    assert chat.choices[0].message.content
    provider.close()


@pytest.mark.parametrize("name", PROVIDERS)
def test_cancel(name: str, emulator: Any, tmp_path: Path) -> None:
    provider = make_provider(name, emulator)
    job, _ = _submit(provider, emulator, tmp_path)
    emulator.advance(5)
    cancelled = provider.cancel_job(job.id)
    assert cancelled.status in (JobStatus.CANCELLING, JobStatus.CANCELLED)
    emulator.advance(JOB_SECONDS)
    assert provider.get_job(job.id).status is JobStatus.CANCELLED


@pytest.mark.parametrize("name", PROVIDERS)
def test_failed_job_carries_the_error(name: str, tmp_path: Path) -> None:
    from tuneport.emulator import ManualClock, running

    with running(clock=ManualClock(), job_seconds=JOB_SECONDS, fail_rate=1.0) as emu:
        provider = make_provider(name, emu)
        job, _ = _submit(provider, emu, tmp_path)
        emu.advance(JOB_SECONDS + 1)
        failed = provider.get_job(job.id)
        assert failed.status is JobStatus.FAILED, failed.provider_status
        assert failed.error is not None
        assert failed.error.message
        assert failed.is_terminal


@pytest.mark.parametrize("name", PROVIDERS)
def test_wrong_key_is_an_authentication_error_without_the_key(
    name: str, emulator: Any, tmp_path: Path
) -> None:
    secret = "sk-not-the-right-key-123456"
    provider = make_provider(name, emulator, api_key=secret)
    with pytest.raises(AuthenticationError) as info:
        provider.get_job("ftjob-1" if name == "openai" else "ft-1")
    assert info.value.provider == name
    assert info.value.status_code == 401
    assert secret not in str(info.value)
    assert info.value.__cause__ is not None  # chained to the SDK's exception


@pytest.mark.parametrize("name", PROVIDERS)
def test_unknown_job_is_not_found(name: str, emulator: Any) -> None:
    provider = make_provider(name, emulator)
    with pytest.raises(NotFoundError):
        provider.get_job("ftjob-missing" if name == "openai" else "missing-job")


@pytest.mark.parametrize("name", PROVIDERS)
def test_rate_limit_keeps_retry_after_and_5xx_is_a_server_error(
    name: str, emulator: Any, tmp_path: Path
) -> None:
    provider = make_provider(name, emulator)
    job, _ = _submit(provider, emulator, tmp_path)
    emulator.faults.schedule("rate_limit", provider=name, method="GET")
    with pytest.raises(RateLimitError) as info:
        provider.get_job(job.id)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0
    emulator.faults.schedule("server_error", provider=name, method="GET")
    with pytest.raises(ServerError):
        provider.get_job(job.id)

    # tuneport's one retry policy (what the Client wraps every request in) rides out both:
    # the provider's Retry-After first, then jittered backoff within the policy's bounds.
    waits: list[float] = []
    emulator.faults.schedule("rate_limit", provider=name, method="GET")
    emulator.faults.schedule("server_error", provider=name, method="GET")
    policy = RetryPolicy(attempts=3, initial_backoff=0.5, max_backoff=20.0)
    again = retrying(policy, waits.append)(lambda: provider.get_job(job.id))
    assert again.id == job.id
    assert len(waits) == 2
    assert waits[0] == info.value.retry_after
    assert 0.75 * 0.5 * 2 <= waits[1] <= 0.5 * 2  # second attempt's backoff, less jitter


def test_a_retry_after_beyond_the_cap_is_left_to_the_caller() -> None:
    # Waiting out "come back in 10 minutes" inside one call would look like a hang.
    calls: list[int] = []

    def limited() -> None:
        calls.append(1)
        raise RateLimitError("slow down", provider="together",
                             retry_after=MAX_RETRY_AFTER + 1)

    waits: list[float] = []
    with pytest.raises(RateLimitError):
        retrying(RetryPolicy(attempts=4), waits.append)(limited)
    assert (len(calls), waits) == (1, [])


@pytest.mark.parametrize("name", PROVIDERS)
def test_dropped_create_is_a_transport_error_and_the_job_can_be_adopted(
    name: str, emulator: Any, tmp_path: Path
) -> None:
    provider = make_provider(name, emulator)
    rendered = write_dataset(tmp_path, name)
    remote = provider.upload(rendered)
    emulator.advance(2)
    remote = provider.wait_file_ready(remote, timeout=5)
    emulator.faults.schedule("drop", provider=name, method="POST")
    with pytest.raises(TransportError):
        provider.create_job(remote, spec_for(name), "drop-key")
    adopted = provider.find_job("drop-key")
    assert adopted is not None, "the job was created before the connection dropped"
    assert adopted.status is not JobStatus.UNKNOWN
