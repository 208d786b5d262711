"""The emulator's own guarantees: persistence, determinism, random faults, loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

openai = pytest.importorskip("openai")

from tuneport.emulator import EmulatorConfig, ManualClock, running  # noqa: E402

from . import test_fireworks_contract as fw  # noqa: E402


def _client(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


def test_state_file_survives_a_restart(tmp_path: Path, train_file: Path) -> None:
    state = tmp_path / "emulator.sqlite"
    clock = ManualClock()
    with running(clock=clock, state_path=state, job_seconds=10) as emu:
        c = _client(emu.openai_base_url, emu.api_key)
        f = c.files.create(file=train_file, purpose="fine-tune")
        job_id = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18",
                                           training_file=f.id).id
        fw_client = fw.client(emu)
        dataset = fw.ready_dataset(emu, fw_client, train_file)
        fw_client.supervised_fine_tuning_jobs.create(
            dataset=dataset, base_model=fw.BASE,
            extra_query={"supervisedFineTuningJobId": "kept"})
    clock.advance(10)
    with running(clock=clock, state_path=state, job_seconds=10) as emu:
        c = _client(emu.openai_base_url, emu.api_key)
        job = c.fine_tuning.jobs.retrieve(job_id)
        assert job.status == "succeeded"
        fw_client = fw.client(emu)
        assert fw_client.supervised_fine_tuning_jobs.get("kept").state == "JOB_STATE_COMPLETED"
        with pytest.raises(fw.fireworks.ConflictError):  # the client-chosen id is still taken
            fw_client.supervised_fine_tuning_jobs.create(
                dataset=dataset, base_model=fw.BASE,
                extra_query={"supervisedFineTuningJobId": "kept"})
        assert c.files.content(f.id).content == train_file.read_bytes()
        # New ids keep counting where the last run stopped.
        assert c.files.create(file=train_file, purpose="fine-tune").id != f.id


def _run_once(train_file: Path) -> list[object]:
    with running(clock=ManualClock(), job_seconds=10, seed=7) as emu:
        c = _client(emu.openai_base_url, emu.api_key)
        f = c.files.create(file=train_file, purpose="fine-tune")
        job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
        emu.advance(10)
        return [job.id, c.fine_tuning.jobs.retrieve(job.id).model_dump(),
                [e.model_dump() for e in c.fine_tuning.jobs.list_events(job.id, limit=100)]]


def test_same_seed_same_run(train_file: Path) -> None:
    assert _run_once(train_file) == _run_once(train_file)


def test_random_faults_follow_the_seed() -> None:
    def statuses(seed: int) -> list[int]:
        with running(clock=ManualClock(), fault_rate=0.5, seed=seed,
                     fault_kinds=("rate_limit", "server_error", "unavailable")) as emu:
            c = _client(emu.openai_base_url, emu.api_key)
            out = []
            for _ in range(12):
                try:
                    c.fine_tuning.jobs.list()
                    out.append(200)
                except openai.APIStatusError as exc:
                    out.append(exc.status_code)
            return out

    first = statuses(3)
    assert first == statuses(3)
    assert 200 in first
    assert {429, 500, 503} & set(first)


def test_only_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"), running(host="0.0.0.0"):
        pass
    with pytest.raises(ValueError, match="fault_rate"), running(fault_rate=2.0):
        pass
    with pytest.raises(ValueError, match="fail_rate"):
        EmulatorConfig(fail_rate=-1).check()


def test_http_controls_for_an_emulator_in_another_process() -> None:
    import httpx2

    with running(clock=ManualClock(start=1000.0)) as emu:
        control = emu.url + "/_emulator"
        assert httpx2.get(control + "/health").json() == {"status": "ok", "now": 1000.0}
        assert httpx2.post(control + "/clock/advance", json={"seconds": 30}).json() == {
            "now": 1030.0}
        assert httpx2.post(control + "/clock/advance", json={"seconds": -1}).status_code == 400
        assert httpx2.post(control + "/clock/advance", content=b"{oops").status_code == 400
        scheduled = httpx2.post(control + "/faults", json={"kind": "unavailable",
                                                           "provider": "openai"})
        assert scheduled.json() == {"scheduled": True}
        with pytest.raises(openai.InternalServerError):
            _client(emu.openai_base_url, emu.api_key).fine_tuning.jobs.list()
        refused = httpx2.post(control + "/faults", json={"kind": "meteor"})
        assert refused.status_code == 400
        assert "unknown fault kind" in refused.json()["error"]
        assert httpx2.post(control + "/faults", json={}).status_code == 400
    with running() as emu:  # the wall clock cannot be moved
        assert httpx2.post(emu.url + "/_emulator/clock/advance",
                           json={"seconds": 1}).status_code == 409


def test_listens_on_loopback_only() -> None:
    with running() as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        assert emu.env()["OPENAI_BASE_URL"] == emu.url + "/openai/v1"
