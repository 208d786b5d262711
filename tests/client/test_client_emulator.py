"""The client with the real adapters and official SDKs against the emulator, one test body
for all three hosted providers: life cycle, idempotency under crashes and lost responses,
concurrency, and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("openai")
pytest.importorskip("together")
pytest.importorskip("fireworks")

from typer.testing import CliRunner

from tuneport._exceptions import JobFailedError, JobTimeoutError, MissingCredentialsError
from tuneport._models import EndpointState, JobStatus
from tuneport.client.client import AsyncClient, Client, ProviderAvailabilityWarning
from tuneport.emulator import Emulator, ManualClock, running

PROVIDERS = ("openai", "together", "fireworks")
MODELS = {"openai": "gpt-4o-mini", "together": "llama-3.1-8b-instruct",
          "fireworks": "llama-3.1-8b-instruct"}
CREATE_PATH = {"openai": "fine_tuning/jobs", "together": "fine-tunes",
               "fireworks": "supervisedFineTuningJobs"}


def records(n: int = 12, tag: str = "") -> list[dict[str, Any]]:
    return [
        {"messages": [
            {"role": "system", "content": "You are a terse support bot."},
            {"role": "user", "content": f"How do I reset password number {i}{tag}?"},
            {"role": "assistant", "content": f"Open settings, choose reset, step {i}."},
        ]}
        for i in range(n)
    ]


def windown(provider: str) -> contextlib.AbstractContextManager[Any]:
    """OpenAI models carry the catalog's wind-down dates: fine_tune warns, on purpose."""
    if provider == "openai":
        return pytest.warns(ProviderAvailabilityWarning, match="2027-01-06")
    return contextlib.nullcontext()


@contextlib.contextmanager
def emulator(monkeypatch: pytest.MonkeyPatch, **config: Any) -> Iterator[Emulator]:
    settings = {"job_seconds": 100.0, "file_seconds": 0.0, "deploy_seconds": 0.0,
                "retry_after": 0.05, **config}
    with running(clock=ManualClock(), **settings) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TOGETHER_PROJECT_ID", "proj-tuneport-tests")
        yield emu


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with emulator(monkeypatch) as running_emu:
        yield running_emu


def client_for(emu: Emulator, provider: str | None = None) -> Client:
    client = Client(provider=provider)
    # Waiting moves the emulator's clock instead of the wall clock.
    client._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
    return client


def remote_jobs(client: Client, provider: str) -> list[str]:
    return [j.id for j in client.adapter(provider).list_jobs()]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_life_cycle_submit_wait_events_endpoint_deploy_chat(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        with windown(provider):
            job = client.fine_tune(records(), model=MODELS[provider], epochs=1)
        assert job.provider == provider
        assert not job.is_terminal
        with windown(provider):
            assert client.fine_tune(records(), model=MODELS[provider], epochs=1).id == job.id
        assert remote_jobs(client, provider) == [job.id]

        updates: list[JobStatus] = []
        done = client.wait(job, poll=10, on_update=lambda j: updates.append(j.status))
        assert done.status is JobStatus.SUCCEEDED
        assert done.fine_tuned_model
        assert updates[-1] is JobStatus.SUCCEEDED
        assert len(updates) >= 2
        events = client.events(done)
        assert len(events) >= 3
        assert client.ledger.events(provider, job.id)
        assert [j.id for j in client.jobs(provider)] == [job.id]

        endpoint = client.endpoint(job.id)
        if provider == "openai":
            assert endpoint.state is EndpointState.READY
            assert endpoint.kind == "serverless"
        else:
            assert endpoint.state is EndpointState.NOT_DEPLOYED
            assert endpoint.kind == "dedicated"
            assert endpoint.hourly_usd is not None
        deployed = client.deploy(f"{provider}:{job.id}")
        assert deployed.state is EndpointState.READY
        chat = deployed.openai_client(max_retries=0)
        try:
            reply = chat.chat.completions.create(
                model=deployed.model, messages=[{"role": "user", "content": "hello"}])
        finally:
            chat.close()
        assert reply.choices[0].message.content


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancel(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        with windown(provider):
            job = client.fine_tune(records(), model=MODELS[provider])
        emu.advance(20)
        client.cancel(job)
        with pytest.raises(JobFailedError, match="cancelled") as info:
            client.wait(job, poll=5)
        assert info.value.job.status is JobStatus.CANCELLED


@pytest.mark.parametrize("provider", PROVIDERS)
def test_failure_raises_job_failed_with_the_providers_error(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    with emulator(monkeypatch, fail_rate=1.0) as emu, client_for(emu, provider) as client:
        with windown(provider):
            job = client.fine_tune(records(), model=MODELS[provider])
        with pytest.raises(JobFailedError) as info:
            client.wait(job, poll=10)
        failed = info.value.job
        assert failed.status is JobStatus.FAILED
        assert failed.error is not None
        assert failed.error.message
        assert client.ledger.get_job(provider, job.id).status is JobStatus.FAILED  # type: ignore[union-attr]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_crash_between_create_and_record_leaves_one_job(
    emu: Emulator, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crash(BaseException):
        """The process dies right after the provider created the job."""

    with client_for(emu, provider) as first:
        def die(*args: object, **kwargs: object) -> None:
            raise Crash

        monkeypatch.setattr(first.ledger, "complete_submission", die)
        with windown(provider), pytest.raises(Crash):
            first.fine_tune(records(), model=MODELS[provider])
    with client_for(emu, provider) as restarted:
        with windown(provider):
            job = restarted.fine_tune(records(), model=MODELS[provider])
        assert remote_jobs(restarted, provider) == [job.id]
        (sub,) = restarted.ledger.submissions(provider)
        assert sub.state == "created"
        assert sub.job_id == job.id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_dropped_after_create_is_adopted(emu: Emulator, provider: str) -> None:
    emu.faults.schedule("drop", provider=provider, path_contains=CREATE_PATH[provider],
                        method="POST")
    stages: list[str] = []
    with client_for(emu, provider) as client:
        with windown(provider):
            job = client.fine_tune(records(), model=MODELS[provider],
                                   on_progress=lambda stage, info: stages.append(stage))
        assert "adopted" in stages
        assert remote_jobs(client, provider) == [job.id]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limited_create_is_retried_after_retry_after(emu: Emulator, provider: str) -> None:
    emu.faults.schedule("rate_limit", provider=provider, path_contains=CREATE_PATH[provider],
                        method="POST")
    with client_for(emu, provider) as client:
        with windown(provider):
            job = client.fine_tune(records(), model=MODELS[provider])
        assert remote_jobs(client, provider) == [job.id]


def test_missing_key_names_the_variable(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY")
    with Client(provider="fireworks") as client, pytest.raises(
        MissingCredentialsError, match="FIREWORKS_API_KEY"
    ):
        client.fine_tune(records(), model=MODELS["fireworks"])


async def test_one_dataset_to_three_providers_concurrently(emu: Emulator) -> None:
    async with AsyncClient() as client:
        client.sync._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
        with pytest.warns(ProviderAvailabilityWarning):
            jobs = await asyncio.gather(*(
                client.fine_tune(records(), model=MODELS[p], provider=p) for p in PROVIDERS
            ))
        assert [j.provider for j in jobs] == list(PROVIDERS)
        emu.advance(200)
        done = await asyncio.gather(*(client.wait(j, poll=0.01) for j in jobs))
        assert all(j.status is JobStatus.SUCCEEDED for j in done)
        assert len(await client.jobs()) == 3


# -- CLI ---------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    from tuneport.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.filterwarnings("ignore::tuneport.client.client.ProviderAvailabilityWarning")
@pytest.mark.parametrize("provider", PROVIDERS)
def test_cli_submit_status_events_wait_endpoint(
    emu: Emulator, provider: str, tmp_path: Path
) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records()))

    result = cli("submit", str(data), "--provider", provider, "--model", MODELS[provider],
                 "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert {"id", "provider", "status", "provider_status", "fine_tuned_model"} <= set(job)
    ref = f"{provider}:{job['id']}"

    again = cli("submit", str(data), "--provider", provider, "--model", MODELS[provider],
                "--epochs", "1", "--json")
    assert json.loads(again.stdout)["id"] == job["id"]

    status = cli("status", job["id"], "--json")
    assert status.exit_code == 0
    assert json.loads(status.stdout)["id"] == job["id"]

    emu.advance(200)
    waited = cli("wait", ref, "--poll", "0.01", "--json")
    assert waited.exit_code == 0, waited.output
    assert json.loads(waited.stdout)["status"] == "succeeded"

    events = cli("events", ref, "--json")
    assert len(json.loads(events.stdout)["events"]) >= 3
    listed = cli("jobs", "--provider", provider, "--json")
    assert [j["id"] for j in json.loads(listed.stdout)["jobs"]] == [job["id"]]

    endpoint = cli("endpoint", ref, "--deploy", "--json")
    assert endpoint.exit_code == 0, endpoint.output
    assert json.loads(endpoint.stdout)["state"] == "ready"
    human = cli("status", ref)
    assert "succeeded" in human.stdout


@pytest.mark.filterwarnings("ignore::tuneport.client.client.ProviderAvailabilityWarning")
def test_cli_cancel_and_failed_wait_exit_codes(emu: Emulator, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records()))
    job = json.loads(cli("submit", str(data), "-p", "together", "-m", MODELS["together"],
                         "--json").stdout)
    cancelled = cli("cancel", f"together:{job['id']}", "--json")
    assert cancelled.exit_code == 0
    emu.advance(50)
    waited = cli("wait", job["id"], "--poll", "0.01")
    assert waited.exit_code == 3
    assert "cancelled" in waited.output
    assert "Traceback" not in waited.output


def test_cli_errors_are_one_clear_line(emu: Emulator, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records()))
    unknown = cli("submit", str(data), "-p", "togther", "-m", "x")
    assert unknown.exit_code == 2
    assert "Did you mean: together" in unknown.output
    assert "Traceback" not in unknown.output

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    invalid = cli("submit", str(bad), "-p", "together", "-m", MODELS["together"], "--json")
    assert invalid.exit_code == 2
    assert json.loads(invalid.stdout)["type"] == "ValidationFailedError"

    monkeypatch.delenv("TOGETHER_API_KEY")
    missing = cli("submit", str(data), "-p", "together", "-m", MODELS["together"])
    assert missing.exit_code == 2
    assert "TOGETHER_API_KEY" in missing.output
    assert emu.api_key not in missing.output

    nojob = cli("status", "ghost-123")
    assert nojob.exit_code == 2
    assert "provider:id" in nojob.output

    missing_file = cli("submit", str(tmp_path / "nope.jsonl"), "-p", "fireworks", "-m", "x")
    assert missing_file.exit_code == 2
    assert "nope.jsonl" in missing_file.output
    assert "exist" in missing_file.output

    no_deploy = cli("endpoint", "together:ft-1", "--wait")
    assert no_deploy.exit_code == 2
    assert "--deploy" in no_deploy.output


def test_cli_shows_warnings_as_one_line_and_cancel_twice_is_harmless(
    emu: Emulator, tmp_path: Path
) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records()))
    submitted = cli("submit", str(data), "-p", "openai", "-m", MODELS["openai"])
    assert submitted.exit_code == 0, submitted.output
    # The wind-down dates, said once, without a Python warning's source path.
    assert "Warning: openai accepts new fine-tuning jobs" in submitted.output
    assert "ProviderAvailabilityWarning" not in submitted.output
    assert ".py:" not in submitted.output
    (job,) = Client().jobs("openai")
    first = cli("cancel", f"openai:{job.id}", "--json")
    again = cli("cancel", f"openai:{job.id}", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(first.stdout)["status"] == json.loads(again.stdout)["status"] == "cancelled"
    # The provider refused the second cancel (400); tuneport answered with the job as it is.
    cancels = [x.status for x in emu.exchanges if x.path.endswith("/cancel")]
    assert cancels == [200, 400]


@pytest.mark.parametrize("provider", ["together", "fireworks"])
def test_quote_uses_the_providers_estimate_api(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        quote = client.quote(records(), model=MODELS[provider], epochs=2)
        assert quote.provider == provider
        assert quote.total_usd is not None
        assert quote.total_usd > 0
        # The upload is remembered: submitting afterwards does not send the file again.
        stages: list[str] = []
        client.fine_tune(records(), model=MODELS[provider], epochs=2,
                         on_progress=lambda stage, info: stages.append(stage))
        assert "upload_reused" in stages
        assert "uploading" not in stages


def test_quote_on_openai_says_there_is_no_estimate_api(emu: Emulator) -> None:
    from tuneport._exceptions import UnsupportedFeatureError

    with client_for(emu, "openai") as client, pytest.warns(ProviderAvailabilityWarning), \
            pytest.raises(UnsupportedFeatureError, match="estimate"):
        client.quote(records(), model=MODELS["openai"])


def test_devices_is_refused_for_hosted_providers(emu: Emulator) -> None:
    from tuneport._exceptions import UnsupportedFeatureError

    with client_for(emu, "together") as client, pytest.raises(
        UnsupportedFeatureError, match="local backend"
    ):
        client.fine_tune(records(), model=MODELS["together"], devices=2)
    assert remote_jobs(client, "together") == []


def test_openai_wind_down_403_raises_unavailable_and_leaves_no_submission(
    emu: Emulator,
) -> None:
    from tuneport._exceptions import ProviderUnavailableError

    emu.openai_fine_tuning_closed = True
    with client_for(emu, "openai") as client:
        with windown("openai"), pytest.raises(ProviderUnavailableError, match="2027-01-06"):
            client.fine_tune(records(), model=MODELS["openai"])
        # Refused for certain: sent once (never retried), no job, no half-submitted record.
        creates = [x.status for x in emu.exchanges
                   if x.method == "POST" and x.path.endswith(CREATE_PATH["openai"])]
        assert creates == [403]
        assert client.ledger.submissions("openai") == []
        assert client.jobs("openai") == []
        assert remote_jobs(client, "openai") == []
        # Once creation is open again the same submission goes through, as a fresh job.
        emu.openai_fine_tuning_closed = False
        with windown("openai"):
            job = client.fine_tune(records(), model=MODELS["openai"])
        assert remote_jobs(client, "openai") == [job.id]
        (sub,) = client.ledger.submissions("openai")
        assert sub.job_id == job.id


# -- deploying and waiting -----------------------------------------------------------------


class FakeTime:
    """A clock that moves only when the client sleeps, moving the emulator's clock too."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.emu.advance(seconds)

    def attach(self, client: Client) -> None:
        client._sleep = self.sleep
        client._clock = lambda: self.now


def succeeded_job(emu: Emulator, client: Client, provider: str) -> Any:
    with windown(provider):
        job = client.fine_tune(records(), model=MODELS[provider], epochs=1)
    emu.advance(200)
    return client.wait(job, poll=1)


def deployment_creates(emu: Emulator) -> list[str]:
    # Fireworks' deploy sends the create again and adopts the 409: count what was made.
    return [x.path for x in emu.exchanges if x.method == "POST" and x.status == 200
            and x.path.endswith(("/deployments", "/endpoints"))]


@pytest.mark.parametrize("provider", ["together", "fireworks"])
def test_deploy_waits_until_the_endpoint_is_ready(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    with emulator(monkeypatch, deploy_seconds=300.0) as emu, \
            client_for(emu, provider) as client:
        done = succeeded_job(emu, client, provider)
        started = client.deploy(done)
        assert started.state is EndpointState.DEPLOYING
        assert started.hourly_usd is not None
        created = deployment_creates(emu)

        time = FakeTime(emu)
        time.attach(client)
        with pytest.raises(JobTimeoutError, match="still deploying") as info:
            client.deploy(done, wait=True, timeout=60, poll=10)
        assert info.value.job.id == done.id
        assert time.now == pytest.approx(60)

        ready = client.deploy(done, wait=True, poll=10)
        assert ready.state is EndpointState.READY
        assert time.now >= 300
        assert max(time.sleeps) <= 60  # the default cap between polls
        # Deploying again (three calls in all) reused the first deployment.
        assert deployment_creates(emu) == created
        assert client.endpoint(done).state is EndpointState.READY


async def test_async_deploy_waits_without_blocking_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with emulator(monkeypatch, deploy_seconds=300.0) as emu:
        async with AsyncClient(provider="together") as client:
            client.sync._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
            done = succeeded_job(emu, client.sync, "together")

            async def clock_runs() -> None:
                for _ in range(2000):
                    emu.advance(5)
                    await asyncio.sleep(0.002)

            ticking = asyncio.create_task(clock_runs())
            try:
                ready = await client.deploy(done, wait=True, poll=0.01, timeout=30)
            finally:
                ticking.cancel()
            assert ready.state is EndpointState.READY


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wait_backs_off_to_the_cap_and_honours_retry_after(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    with emulator(monkeypatch, retry_after=7.0, job_seconds=120.0) as emu, \
            client_for(emu, provider) as client:
        with windown(provider):
            job = client.fine_tune(records(), model=MODELS[provider], epochs=1)
        time = FakeTime(emu)
        time.attach(client)
        emu.faults.schedule("rate_limit", provider=provider, method="GET",
                            path_contains=job.id.rsplit("/", 1)[-1], times=2)
        done = client.wait(job, poll=2, max_poll=5)
        assert done.status is JobStatus.SUCCEEDED
        limited = [x for x in emu.exchanges if x.status == 429]
        assert len(limited) == 2
        # The provider's Retry-After (7 s) wins over the 5 s cap, twice; polls stay <= 5 s.
        assert time.sleeps.count(7.0) == 2
        polls = [s for s in time.sleeps if s != 7.0]
        assert max(polls) == 5
        assert min(polls) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wandb_reaches_each_providers_own_integration(emu: Emulator, provider: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneport._models import WandbConfig

    monkeypatch.setenv("WANDB_API_KEY", "wandb-key-never-logged")
    sent: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        if request.method == "POST" and request.url.path.endswith(CREATE_PATH[provider]):
            sent.append(json.loads(request.content))

    with client_for(emu, provider) as client:
        adapter: Any = client.adapter()
        # The SDK's own httpx client: observe the bytes that go on the wire.
        adapter._client._client.event_hooks["request"].append(record)
        with windown(provider):
            client.fine_tune(records(), model=MODELS[provider],
                             wandb=WandbConfig(project="proj", entity="team", name="run-1"))
    (body,) = sent
    if provider == "openai":
        assert body["integrations"] == [{"type": "wandb", "wandb": {
            "project": "proj", "entity": "team", "name": "run-1"}}]
    elif provider == "together":
        # The SDK's wandb_api_key= goes on the wire as wandb_key (reference/providers.md).
        assert {k: body[k] for k in body if k.startswith("wandb")} == {
            "wandb_key": "wandb-key-never-logged", "wandb_project_name": "proj",
            "wandb_entity": "team", "wandb_name": "run-1"}
    else:
        assert body["wandbConfig"] == {"enabled": True, "project": "proj", "entity": "team",
                                       "runId": "run-1", "apiKey": "wandb-key-never-logged"}
    # The emulator took the request; what it answers never carries the W&B key.
    (created,) = [x for x in emu.exchanges
                  if x.method == "POST" and x.path.endswith(CREATE_PATH[provider])]
    assert created.status == 200
    assert "wandb-key-never-logged" not in json.dumps(created.body)
    assert "wandb-key-never-logged" not in client.ledger.path.read_bytes().decode("latin-1")


def test_cli_submit_with_wandb(emu: Emulator, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "wandb-key-never-logged")
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records()))
    result = cli("submit", str(data), "-p", "fireworks", "-m", MODELS["fireworks"],
                 "--wandb-project", "proj", "--wandb-name", "run-1", "--json")
    assert result.exit_code == 0, result.output
    (created,) = [x for x in emu.exchanges
                  if x.method == "POST" and x.path.endswith(CREATE_PATH["fireworks"])]
    assert created.body["wandbConfig"] == {"enabled": True, "project": "proj", "runId": "run-1"}
    assert "wandb-key-never-logged" not in result.output
    lonely = cli("submit", str(data), "-p", "fireworks", "-m", MODELS["fireworks"],
                 "--wandb-name", "run-1")
    assert lonely.exit_code == 2
    assert "--wandb-project" in lonely.output


# -- configuration -------------------------------------------------------------------------

SDK_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOGETHER_API_KEY", "TOGETHER_BASE_URL",
           "FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID", "FIREWORKS_BASE_URL")


def test_client_arguments_alone_reach_the_service(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SDK_ENV:
        monkeypatch.delenv(name)
    with Client(provider="fireworks", base_url=emu.fireworks_base_url, api_key=emu.api_key,
                account_id="emulator") as client:
        job = client.fine_tune(records(), model=MODELS["fireworks"])
        assert remote_jobs(client, "fireworks") == [job.id]
    with pytest.raises(MissingCredentialsError, match="FIREWORKS_API_KEY"):
        Client(provider="fireworks", base_url=emu.fireworks_base_url,
               account_id="emulator").fine_tune(records(), model=MODELS["fireworks"])


def test_a_toml_profile_selects_provider_and_service(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in SDK_ENV:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tuneport.toml").write_text(
        'provider = "openai"\n'
        "[profiles.emu]\n"
        'provider = "together"\n'
        "[profiles.emu.providers.together]\n"
        f'base_url = "{emu.together_base_url}"\n'
    )
    monkeypatch.setenv("TOGETHER_API_KEY", emu.api_key)  # the key stays out of the file
    with Client(profile="emu") as client:
        assert client.provider == "together"
        job = client.fine_tune(records(), model=MODELS["together"])
        assert remote_jobs(client, "together") == [job.id]


PROVIDER_IDS = {"openai": "gpt-4o-mini-2024-07-18",
                "together": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                "fireworks": "accounts/fireworks/models/llama-v3p1-8b-instruct"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_canonical_name_and_provider_id_are_the_same_model(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        with windown(provider):
            by_name = client.fine_tune(records(), model=MODELS[provider])
        with windown(provider):
            by_id = client.fine_tune(records(), model=PROVIDER_IDS[provider])
        assert by_id.id == by_name.id
        assert by_name.base_model == PROVIDER_IDS[provider]
