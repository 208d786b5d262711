"""The endpoint lifecycle end to end: the real adapters and official SDKs against the emulator.

Submit → wait → ``deploy(wait=True)`` → ``endpoint.chat`` → ``undeploy``, then the
provider's *own* SDK is asked what is still running, and ``tuneport endpoints --json``
must print ``{"endpoints": []}``. Plus: deploying twice, a deploy that fails half-way,
``stop_after`` with ``--stop-expired``, the overdue warnings, and the backends that deploy
nothing (OpenAI serverless).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("starlette")
together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")

from typer.testing import CliRunner  # noqa: E402

from tuneport._exceptions import ConfigError, ProviderError, TuneportError  # noqa: E402
from tuneport._models import EndpointState, Job  # noqa: E402
from tuneport.cli import app  # noqa: E402
from tuneport.client.client import AsyncClient, Client  # noqa: E402
from tuneport.client.deployments import EndpointOverdueWarning, parse_duration  # noqa: E402
from tuneport.emulator import Emulator, ManualClock, running  # noqa: E402

PROJECT = "proj-lifecycle"
MODELS = {"together": "llama-3.1-8b-instruct", "fireworks": "llama-3.1-8b-instruct",
          "openai": "gpt-4o-mini"}
DEDICATED = ("together", "fireworks")


def records(n: int = 12) -> list[dict[str, Any]]:
    return [{"messages": [
        {"role": "user", "content": f"How do I reset password number {i}?"},
        {"role": "assistant", "content": f"Open settings, choose reset, step {i}."},
    ]} for i in range(n)]


@contextlib.contextmanager
def emulator(monkeypatch: pytest.MonkeyPatch, **config: Any) -> Iterator[Emulator]:
    settings = {"job_seconds": 100.0, "file_seconds": 0.0, "deploy_seconds": 120.0,
                "retry_after": 0.05, **config}
    with running(clock=ManualClock(), **settings) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("TOGETHER_PROJECT_ID", PROJECT)
        yield emu


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with emulator(monkeypatch) as running_emu:
        yield running_emu


def client_for(emu: Emulator, provider: str) -> Client:
    client = Client(provider=provider)
    client._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
    return client


def succeeded(emu: Emulator, client: Client, provider: str) -> Job:
    with warnings.catch_warnings():
        # OpenAI's models carry wind-down dates: fine_tune warns, which is not tested here.
        warnings.simplefilter("ignore")
        job = client.fine_tune(records(), model=MODELS[provider], epochs=1)
    emu.advance(200)
    return client.wait(job, poll=1)


def running_deployments(emu: Emulator, provider: str) -> list[str]:
    """What the provider's own SDK lists as running (not stopped, not deleted)."""
    if provider == "together":
        sdk = together.Together(base_url=emu.together_base_url, api_key=emu.api_key,
                                project_id=PROJECT, max_retries=0)
        with sdk:
            return [f"{e.name}/{d.name}" for e in sdk.endpoints.list()
                    for d in e.deployments if d.state != "DEPLOYMENT_STATE_STOPPED"]
    sdk_fw = fireworks.Fireworks(base_url=emu.fireworks_base_url, api_key=emu.api_key,
                                 account_id="emulator", max_retries=0)
    with sdk_fw:
        return [str(d.name) for d in sdk_fw.deployments.list()
                if d.state not in ("DELETING", "DELETED")]


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("provider", DEDICATED)
def test_deploy_chat_undeploy_leaves_nothing_running(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        done = succeeded(emu, client, provider)
        assert client.endpoint(done).state is EndpointState.NOT_DEPLOYED
        assert client.endpoints() == []

        endpoint = client.deploy(done, wait=True, timeout=3600, poll=10)
        assert endpoint.state is EndpointState.READY
        assert "hello" in endpoint.chat([{"role": "user", "content": "hello"}])
        assert len(running_deployments(emu, provider)) == 1

        listed = client.endpoints()
        assert [(e.provider, e.job_id, e.state) for e in listed] == [
            (provider, done.id, EndpointState.READY)]
        assert listed[0].deployment_id == endpoint.deployment_id
        assert listed[0].hourly_usd is not None
        assert listed[0].hourly_usd > 0
        assert listed[0].deployed_at is not None
        assert listed[0].accrued_usd is not None
        shown = cli_json("endpoints")
        assert list(shown) == ["endpoints"]
        assert [(e["provider"], e["job_id"], e["state"]) for e in shown["endpoints"]] == [
            (provider, done.id, "ready")]
        assert emu.api_key not in json.dumps(shown)

        stopped = client.undeploy(done)
        assert stopped.state is EndpointState.NOT_DEPLOYED
        assert running_deployments(emu, provider) == []
        assert client.endpoints() == []
        assert cli_json("endpoints") == {"endpoints": []}
        with pytest.raises(TuneportError, match=r"not_deployed|deploy it first"):
            stopped.chat([{"role": "user", "content": "hello"}])

        again = client.undeploy(done)  # harmless
        assert again.state is EndpointState.NOT_DEPLOYED
        assert client.endpoint(done).state is EndpointState.NOT_DEPLOYED


@pytest.mark.parametrize("provider", DEDICATED)
def test_deploy_twice_is_one_deployment(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        done = succeeded(emu, client, provider)
        first = client.deploy(done)
        second = client.deploy(done, wait=True, poll=10)
        assert second.deployment_id == first.deployment_id
        assert second.state is EndpointState.READY
        assert not [x for x in emu.exchanges if x.status == 409 and x.method == "POST"
                    and x.path.endswith("/endpoints")]
        assert len(running_deployments(emu, provider)) == 1
        assert len(client.endpoints()) == 1
        # Stopped, then deployed again: the same names, started once more.
        client.undeploy(done)
        third = client.deploy(done, wait=True, poll=10)
        assert third.state is EndpointState.READY
        assert len(running_deployments(emu, provider)) == 1
        client.undeploy(done)


def test_together_endpoint_is_project_qualified_routed_and_found_again(emu: Emulator) -> None:
    with client_for(emu, "together") as client:
        done = succeeded(emu, client, "together")
        endpoint = client.deploy(done, wait=True, poll=10)
        slug, _, bare = endpoint.model.partition("/")
        assert slug
        assert bare
        assert "/" not in bare
        sdk = together.Together(base_url=emu.together_base_url, api_key=emu.api_key,
                                project_id=PROJECT, max_retries=0)
        with sdk:
            (listed,) = list(sdk.endpoints.list())
            assert listed.name == endpoint.model
            (deployment,) = listed.deployments
            assert [e.deployment_id for e in listed.traffic_split] == [deployment.id]
            assert deployment.model.startswith(f"projects/{PROJECT}/models/")
            assert "/" not in deployment.name.rsplit("/", 1)[-1]
            full = sdk.endpoints.deployments.retrieve(deployment.id, endpoint_id=listed.id)
            assert full.config.startswith("projects/")
            assert "/configs/" in full.config
        # A fresh client (a new process) finds the same endpoint by its qualified name.
        with client_for(emu, "together") as other:
            assert other.deploy(done).deployment_id == endpoint.deployment_id
        client.undeploy(done)


def test_together_asks_which_config_when_the_base_has_several(emu: Emulator) -> None:
    with client_for(emu, "together") as client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            job = client.fine_tune(records(), model="llama-3.1-70b-instruct", epochs=1)
        emu.advance(200)
        done = client.wait(job, poll=1)
        with pytest.raises(ConfigError, match=r"several deployment configs.*gpu_count=2") as info:
            client.deploy(done)
        choice = str(info.value).split("configs for ", 1)[1].split(": ", 1)[1].split(" ")[0]
        assert choice.startswith("cr_")
        assert client.endpoints() == []  # refused before anything was created
        endpoint = client.deploy(done, config=choice, wait=True, poll=10)
        assert endpoint.state is EndpointState.READY
        client.undeploy(done)
    ref = f"together:{done.id}"
    again = cli_json("endpoint", ref, "--deploy", "--config", choice)
    assert again["state"] in ("deploying", "ready")
    assert cli_json("endpoint", ref, "--stop")["state"] == "not_deployed"


@pytest.mark.parametrize("provider", DEDICATED)
def test_an_unknown_deploy_option_is_a_clear_error(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        done = succeeded(emu, client, provider)
        with pytest.raises(TuneportError, match=r"does not know the deployment option.*colour"):
            client.deploy(done, colour="blue")
        assert client.endpoints() == []
        result = CliRunner().invoke(app, ["endpoint", f"{provider}:{done.id}", "--stop"])
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output


def test_together_half_way_failure_removes_the_new_endpoint(emu: Emulator) -> None:
    with client_for(emu, "together") as client:
        done = succeeded(emu, client, "together")
        emu.faults.schedule("server_error", provider="together", method="POST",
                            path_contains="/deployments", times=10)
        with pytest.raises(ProviderError):
            client.deploy(done)
        emu.faults.clear()
        sdk = together.Together(base_url=emu.together_base_url, api_key=emu.api_key,
                                project_id=PROJECT, max_retries=0)
        with sdk:
            assert list(sdk.endpoints.list()) == []  # rolled back, as the CLI does
        assert client.endpoints() == []
        # Endpoint and deployment made, then every update refused (routing, and the
        # rollback's scale-down too): what is left is recorded, listed and stoppable.
        emu.faults.schedule("server_error", provider="together", method="PATCH",
                            path_contains="/endpoints/", times=50)
        with pytest.raises(ProviderError):
            client.deploy(done)
        emu.faults.clear()
        assert len(running_deployments(emu, "together")) == 1
        assert [e.job_id for e in client.endpoints()] == [done.id]
        assert client.undeploy(done).state is EndpointState.NOT_DEPLOYED
        assert running_deployments(emu, "together") == []
        assert client.endpoints() == []
        assert client.deploy(done, wait=True, poll=10).state is EndpointState.READY
        client.undeploy(done)


@pytest.mark.parametrize("provider", DEDICATED)
def test_a_lost_create_answer_is_adopted_never_made_twice(emu: Emulator, provider: str) -> None:
    with client_for(emu, provider) as client:
        done = succeeded(emu, client, provider)
        emu.faults.schedule("drop", provider=provider, method="POST",
                            path_contains="/deployments", times=1)
        endpoint = client.deploy(done, wait=True, poll=10)
        assert endpoint.state is EndpointState.READY
        assert len(running_deployments(emu, provider)) == 1
        client.undeploy(done)


# Fireworks' deployment is one create; Together's retry finds the deployment a lost answer
# made (by its name) and routes it, so there the deploy succeeds (the test above).
@pytest.mark.parametrize("provider", ["fireworks"])
def test_a_deploy_that_never_answers_is_still_listed_and_stoppable(
    emu: Emulator, provider: str,
) -> None:
    with client_for(emu, provider) as client:
        done = succeeded(emu, client, provider)
        # Every try creates the deployment and loses the answer.
        emu.faults.schedule("drop", provider=provider, method="POST",
                            path_contains="/deployments", times=50)
        with pytest.raises(TuneportError):
            client.deploy(done)
        emu.faults.clear()
        assert len(running_deployments(emu, provider)) == 1  # made once, never twice
        listed = client.endpoints()
        assert [e.job_id for e in listed] == [done.id]  # the ledger kept it
        assert client.undeploy(done).state is EndpointState.NOT_DEPLOYED
        assert running_deployments(emu, provider) == []
        assert client.endpoints() == []


def test_stop_after_deadline_warns_and_stop_expired_stops(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with client_for(emu, "fireworks") as client:
        done = succeeded(emu, client, "fireworks")
        endpoint = client.deploy(done, wait=True, poll=10, stop_after=timedelta(hours=2))
        assert endpoint.stop_at is not None
        assert endpoint.deployed_at is not None
        assert endpoint.stop_at - endpoint.deployed_at == timedelta(hours=2)
        assert client.stop_expired() == []  # not yet
        later = datetime.now(UTC) + timedelta(hours=3)
        client._deployer.now = lambda: later
        with pytest.warns(EndpointOverdueWarning, match="stop-after deadline") as seen:
            listed = client.endpoints()
        assert "--stop" in str(seen[0].message)
        assert listed[0].accrued_usd is not None
        assert listed[0].hourly_usd is not None
        assert listed[0].accrued_usd >= 3 * listed[0].hourly_usd - 1
        with pytest.warns(EndpointOverdueWarning):
            client.endpoint(done)
        stopped = client.stop_expired()
        assert [(e.job_id, e.state) for e in stopped] == [(done.id, EndpointState.NOT_DEPLOYED)]
        assert running_deployments(emu, "fireworks") == []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert client.endpoints() == []  # nothing left to warn about


def test_a_day_old_deployment_warns_without_a_deadline(emu: Emulator) -> None:
    with client_for(emu, "together") as client:
        done = succeeded(emu, client, "together")
        client.deploy(done)
        client._deployer.now = lambda: datetime.now(UTC) + timedelta(hours=25)
        with pytest.warns(EndpointOverdueWarning, match="up for 25 hours"):
            client.endpoints()
        client.undeploy(done)


def test_cli_stop_after_stop_expired_and_stop(emu: Emulator) -> None:
    with client_for(emu, "fireworks") as client:
        done = succeeded(emu, client, "fireworks")
    ref = f"fireworks:{done.id}"
    shown = cli_json("endpoint", ref, "--deploy", "--stop-after", "2h")
    assert shown["stop_at"] is not None
    assert shown["state"] in ("deploying", "ready")
    listed = cli_json("endpoints")["endpoints"]
    assert [(e["job_id"], e["deployment_id"]) for e in listed] == [
        (done.id, shown["deployment_id"])]
    # Nothing is past its deadline yet: --stop-expired stops nothing.
    assert cli_json("endpoints", "--stop-expired") == {"endpoints": listed, "stopped": []}
    stopped = cli_json("endpoint", ref, "--stop")
    assert stopped["state"] == "not_deployed"
    assert cli_json("endpoints") == {"endpoints": []}
    assert running_deployments(emu, "fireworks") == []
    human = CliRunner().invoke(app, ["endpoints"])
    assert human.exit_code == 0
    assert "No deployments" in human.stdout


def test_cli_warns_about_an_overdue_endpoint(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with client_for(emu, "together") as client:
        done = succeeded(emu, client, "together")
        client.deploy(done, stop_after=timedelta(minutes=5))
    import tuneport.client.deployments as deployments

    monkeypatch.setattr(deployments, "_utcnow",
                        lambda: datetime.now(UTC) + timedelta(minutes=10))
    result = CliRunner().invoke(app, ["endpoints"])
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.stderr
    assert "stop-after deadline" in result.stderr
    assert f"together:{done.id} --stop" in result.stderr.replace("\n", "")
    result = CliRunner().invoke(app, ["endpoints", "--stop-expired", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["endpoints"] == []
    assert [e["job_id"] for e in out["stopped"]] == [done.id]


def test_openai_is_serverless_nothing_to_deploy_or_stop(emu: Emulator) -> None:
    with client_for(emu, "openai") as client:
        done = succeeded(emu, client, "openai")
        endpoint = client.deploy(done, wait=True)
        assert endpoint.kind == "serverless"
        assert endpoint.state is EndpointState.READY
        assert client.endpoints() == []  # nothing billed by the hour is recorded
        stopped = client.undeploy(done)
        assert stopped.state is EndpointState.READY  # still callable: billed per token
        assert any("nothing to stop" in n for n in stopped.notes)
        assert stopped.chat([{"role": "user", "content": "hello"}])


async def test_async_client_has_the_same_lifecycle(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ready at once: AsyncClient waits with asyncio.sleep, which moves no emulated clock.
    with emulator(monkeypatch, deploy_seconds=0.0) as emu:
        await _async_lifecycle(emu)


async def _async_lifecycle(emu: Emulator) -> None:
    async with AsyncClient(provider="fireworks") as client:
        client.sync._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
        done = succeeded(emu, client.sync, "fireworks")
        ready = await client.deploy(done, wait=True, poll=0.01, stop_after=timedelta(hours=1))
        assert ready.state is EndpointState.READY
        assert [e.job_id for e in await client.endpoints()] == [done.id]
        assert (await client.stop_expired()) == []
        stopped = await client.undeploy(done)
        assert stopped.state is EndpointState.NOT_DEPLOYED
        assert await client.endpoints() == []


@pytest.mark.parametrize(("text", "seconds"), [
    ("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("1d", 86400), ("30", 30)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "2x", "h2", "2h junk"])
def test_parse_duration_refuses_junk(text: str) -> None:
    with pytest.raises(TuneportError, match="not a duration"):
        parse_duration(text)
