"""The client's orchestration (idempotency, adoption, retries, waiting) on an in-memory backend."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from client_fakes import Backend, chat_records

from tuneport._config import RetryPolicy
from tuneport._exceptions import (
    BadRequestError,
    ConfigError,
    JobError,
    JobFailedError,
    JobTimeoutError,
    ServerError,
    UnsupportedFeatureError,
    ValidationFailedError,
)
from tuneport._models import JobStatus, WandbConfig
from tuneport.client.client import AsyncClient, Client
from tuneport.dataset import Dataset


def _ds(tag: str = "") -> Dataset:
    return Dataset.from_records(chat_records(tag=tag))


def test_fine_tune_uploads_creates_and_records(client: Client, backend: Backend) -> None:
    stages: list[str] = []
    job = client.fine_tune(_ds(), model="m-1", epochs=2,
                           on_progress=lambda stage, info: stages.append(stage))
    assert job.provider == "fake"
    assert job.status is JobStatus.QUEUED
    assert job.idempotency_key
    assert job.idempotency_key.startswith("tp-")
    assert backend.upload_calls == 1
    assert backend.create_calls == 1
    assert stages == ["validated", "uploading", "uploaded", "creating", "created"]
    sub = client.ledger.get_submission("fake", job.idempotency_key)
    assert sub is not None
    assert sub.state == "created"
    assert sub.job_id == job.id
    assert sub.spec["epochs"] == 2
    assert [j.id for j in client.ledger.jobs()] == [job.id]


def test_same_dataset_and_spec_twice_returns_the_same_job(
    client: Client, backend: Backend
) -> None:
    first = client.fine_tune(_ds(), model="m-1", epochs=2)
    # A new client (a new process, in effect) over the same ledger.
    with Client(provider="fake") as again:
        second = again.fine_tune(_ds(), model="m-1", epochs=2)
    assert second.id == first.id
    assert backend.create_calls == 1
    assert backend.upload_calls == 1
    assert len(backend.jobs) == 1


def test_new_true_creates_another_job_but_reuses_the_upload(
    client: Client, backend: Backend
) -> None:
    first = client.fine_tune(_ds(), model="m-1")
    second = client.fine_tune(_ds(), model="m-1", new=True)
    assert second.id != first.id
    assert second.idempotency_key != first.idempotency_key
    assert backend.upload_calls == 1
    assert len(backend.jobs) == 2


def test_a_different_spec_is_a_different_job(client: Client, backend: Backend) -> None:
    a = client.fine_tune(_ds(), model="m-1", epochs=2)
    b = client.fine_tune(_ds(), model="m-1", epochs=3)
    c = client.fine_tune(_ds("x"), model="m-1", epochs=2)
    assert len({a.id, b.id, c.id}) == 3
    assert backend.upload_calls == 2  # two distinct contents


def test_caller_key_is_used_and_new_conflicts_with_it(client: Client, backend: Backend) -> None:
    job = client.fine_tune(_ds(), model="m-1", idempotency_key="my-run-1")
    assert job.idempotency_key == "my-run-1"
    assert backend.jobs[job.id]["key"] == "my-run-1"
    assert client.fine_tune(_ds(), model="m-1", idempotency_key="my-run-1").id == job.id
    with pytest.raises(ConfigError, match="not both"):
        client.fine_tune(_ds(), model="m-1", idempotency_key="my-run-1", new=True)


def test_crash_between_create_and_record_ends_with_one_job(
    client: Client, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crash(BaseException):
        """Stands for the process dying (not an Exception: nothing may catch it)."""

    def die(*args: object, **kwargs: object) -> None:
        raise Crash

    monkeypatch.setattr(client.ledger, "complete_submission", die)
    with pytest.raises(Crash):
        client.fine_tune(_ds(), model="m-1")
    assert len(backend.jobs) == 1  # the provider did create it
    (pending,) = client.ledger.submissions("fake")
    assert pending.state == "creating"
    assert pending.job_id is None

    with Client(provider="fake") as restarted:
        job = restarted.fine_tune(_ds(), model="m-1")
    assert len(backend.jobs) == 1
    assert backend.create_calls == 1
    assert job.id == next(iter(backend.jobs))
    (done,) = client.ledger.submissions("fake")
    assert done.state == "created"
    assert done.job_id == job.id


def test_crash_before_create_is_sent_then_creates_once(
    client: Client, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crash(BaseException):
        pass

    original = client.adapter().create_job

    def die_before(*args: object, **kwargs: object) -> None:
        raise Crash

    monkeypatch.setattr(client.adapter(), "create_job", die_before)
    with pytest.raises(Crash):
        client.fine_tune(_ds(), model="m-1")
    monkeypatch.setattr(client.adapter(), "create_job", original)
    job = client.fine_tune(_ds(), model="m-1")
    assert list(backend.jobs) == [job.id]
    assert backend.find_calls >= 1  # it looked before creating


def test_response_lost_after_create_is_adopted(
    client: Client, backend: Backend, sleeps: list[float]
) -> None:
    backend.create_faults = ["lost"]
    stages: list[str] = []
    job = client.fine_tune(_ds(), model="m-1", on_progress=lambda s, i: stages.append(s))
    assert len(backend.jobs) == 1
    assert backend.create_calls == 1  # the retry found the job instead of creating again
    assert stages[-1] == "adopted"
    assert client.ledger.get_submission("fake", job.idempotency_key or "").job_id == job.id  # type: ignore[union-attr]
    assert len(sleeps) == 1


def test_server_errors_are_retried_with_capped_backoff(
    backend: Backend, sleeps: list[float]
) -> None:
    backend.create_faults = ["5xx", "5xx", "5xx"]
    with Client(provider="fake", retry=RetryPolicy(attempts=4, initial_backoff=1.0,
                                                   max_backoff=1.5)) as c:
        c._sleep = sleeps.append
        job = c.fine_tune(_ds(), model="m-1")
    assert backend.create_calls == 4
    assert list(backend.jobs) == [job.id]
    assert len(sleeps) == 3
    assert all(0.5 <= s <= 1.5 for s in sleeps)


def test_rate_limit_honours_retry_after(
    client: Client, backend: Backend, sleeps: list[float]
) -> None:
    backend.create_faults = ["429"]
    client.fine_tune(_ds(), model="m-1")
    assert sleeps == [0.25]


def test_retries_are_bounded_and_leave_the_intent_for_next_time(backend: Backend) -> None:
    backend.create_faults = ["5xx"] * 3
    with Client(provider="fake", retry=2) as c:
        c._sleep = lambda s: None
        with pytest.raises(ServerError):
            c.fine_tune(_ds(), model="m-1")
        assert backend.create_calls == 2
        (pending,) = c.ledger.submissions()
        assert pending.state == "creating"
        job = c.fine_tune(_ds(), model="m-1")
    assert list(backend.jobs) == [job.id]


def test_a_refused_create_is_not_retried_and_leaves_no_intent(
    client: Client, backend: Backend
) -> None:
    backend.create_faults = ["400"]
    with pytest.raises(BadRequestError):
        client.fine_tune(_ds(), model="m-1")
    assert backend.create_calls == 1
    assert client.ledger.submissions() == []


def test_invalid_dataset_raises_before_any_upload(client: Client, backend: Backend) -> None:
    records = chat_records()
    records[6]["messages"][1]["content"] = ""
    with pytest.raises(ValidationFailedError, match="line 7: empty_content") as info:
        client.fine_tune(records, model="m-1")
    assert info.value.report is not None
    assert backend.upload_calls == 0


def test_unsupported_method_names_the_provider(client: Client, backend: Backend) -> None:
    with pytest.raises(UnsupportedFeatureError, match="fake does not offer method 'dpo-lora'"):
        client.fine_tune(_ds(), model="m-1", method="dpo-lora")
    with pytest.raises(UnsupportedFeatureError, match="Unknown method"):
        client.fine_tune(_ds(), model="m-1", method="sft")
    assert backend.upload_calls == 0


def test_wandb_key_never_reaches_the_ledger(client: Client) -> None:
    client.fine_tune(_ds(), model="m-1",
                     wandb=WandbConfig(project="p", api_key="wandb-very-secret-key"))
    client.get_job(client.jobs()[0])
    data = b"".join(p.read_bytes() for p in client.ledger.path.parent.iterdir() if p.is_file())
    assert b"wandb-very-secret-key" not in data
    assert b"wk-secret-123" not in data  # a key echoed in a raw payload is scrubbed too


def test_wait_follows_the_job_to_success_with_backoff(
    client: Client, backend: Backend, sleeps: list[float]
) -> None:
    backend.steps_per_state = 3
    job = client.fine_tune(_ds(), model="m-1")
    seen: list[JobStatus] = []
    done = client.wait(job, poll=1.0, max_poll=2.0, on_update=lambda j: seen.append(j.status))
    assert done.status is JobStatus.SUCCEEDED
    assert done.fine_tuned_model == f"ft:{job.id}"
    assert seen[0] is JobStatus.QUEUED
    assert seen[-1] is JobStatus.SUCCEEDED
    assert JobStatus.RUNNING in seen
    assert sleeps[0] == 1.0
    assert max(sleeps) <= 2.0
    assert sleeps[1] == 1.5  # grows while nothing changes
    assert client.ledger.get_job("fake", job.id).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


def test_wait_honours_retry_after_while_polling(
    client: Client, backend: Backend, sleeps: list[float]
) -> None:
    job = client.fine_tune(_ds(), model="m-1")
    backend.get_faults = ["429"] * 4  # more than the in-call retries (4 attempts)
    client.wait(job, poll=0.5)
    assert sleeps.count(7.0) >= 4


def test_wait_raises_job_failed_with_the_job(client: Client) -> None:
    job = client.fine_tune(_ds(), model="m-1", fail=True)
    with pytest.raises(JobFailedError, match="oom: ran out of memory") as info:
        client.wait(job, poll=0)
    assert info.value.job.status is JobStatus.FAILED
    assert info.value.job.id == job.id


def test_wait_times_out_with_the_last_snapshot(client: Client, backend: Backend) -> None:
    backend.steps_per_state = 1000
    job = client.fine_tune(_ds(), model="m-1")
    now = [0.0]
    client._clock = lambda: now[0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client._sleep = sleep
    with pytest.raises(JobTimeoutError) as info:
        client.wait(job, timeout=30, poll=4)
    assert info.value.job.status is JobStatus.QUEUED
    assert now[0] == pytest.approx(30)


def test_job_references(client: Client, backend: Backend) -> None:
    job = client.fine_tune(_ds(), model="m-1")
    assert client.get_job(job.id).id == job.id  # bare id, found in the ledger
    assert client.get_job(f"fake:{job.id}").id == job.id
    with Client() as no_provider:
        assert no_provider.get_job(job.id).provider == "fake"
        with pytest.raises(ConfigError, match="provider:id"):
            no_provider.get_job("job-999")


def test_jobs_lists_the_ledger_and_refreshes_on_request(client: Client, backend: Backend) -> None:
    a = client.fine_tune(_ds(), model="m-1")
    b = client.fine_tune(_ds("b"), model="m-1")
    listed = client.jobs()
    assert [j.id for j in listed] == [b.id, a.id]
    assert all(j.status is JobStatus.QUEUED for j in listed)
    refreshed = client.jobs(refresh=True)
    assert all(j.status is JobStatus.RUNNING for j in refreshed)
    assert client.jobs("other") == []


def test_events_cancel_and_endpoint(client: Client) -> None:
    job = client.fine_tune(_ds(), model="m-1")
    with pytest.raises(JobError, match=r"use client\.wait"):
        client.endpoint(job)
    cancelled = client.cancel(job)
    assert cancelled.status is JobStatus.CANCELLED
    events = client.events(job)
    assert [e.message for e in events] == ["status created", "status running", "status cancelled"]
    assert client.ledger.events("fake", job.id) == events
    with pytest.raises(JobFailedError, match="ended cancelled"):
        client.endpoint(job)

    other = client.fine_tune(_ds("2"), model="m-1")
    client.wait(other, poll=0)
    endpoint = client.endpoint(other)
    assert endpoint.model == f"ft:{other.id}"
    assert client.deploy(other).model == endpoint.model


def test_quote_uploads_once_and_asks_the_provider(client: Client, backend: Backend) -> None:
    quote = client.quote(_ds(), model="m-1")
    assert quote.provider == "fake"
    assert quote.train_tokens
    client.fine_tune(_ds(), model="m-1")
    assert backend.upload_calls == 1


def test_ledger_is_sqlite_in_wal_mode_under_home(client: Client) -> None:
    client.fine_tune(_ds(), model="m-1")
    path = client.ledger.path
    assert path.name == "ledger.sqlite3"
    assert path.parent == client.settings.home
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_async_client_submits_to_several_providers_concurrently(backend: Backend) -> None:
    async with AsyncClient() as client:
        jobs = await asyncio.gather(*(
            client.fine_tune(_ds(), model="m-1", provider=p) for p in ("fake", "fake2")
        ))
        assert {j.provider for j in jobs} == {"fake", "fake2"}
        done = await asyncio.gather(*(client.wait(j, poll=0) for j in jobs))
        assert all(j.status is JobStatus.SUCCEEDED for j in done)
        again = await client.fine_tune(_ds(), model="m-1", provider="fake")
        assert again.id == jobs[0].id
        assert len(await client.jobs()) == 2
        assert [e.message for e in await client.events(jobs[0])][-1] == "status done"


async def test_concurrent_identical_submissions_make_one_job(backend: Backend) -> None:
    async with AsyncClient(provider="fake") as client:
        jobs = await asyncio.gather(*(client.fine_tune(_ds(), model="m-1") for _ in range(4)))
    assert len({j.id for j in jobs}) == 1
    assert len(backend.jobs) == 1
