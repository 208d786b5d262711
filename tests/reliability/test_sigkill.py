"""Guarantee 2, crashes: a SIGKILL at every stage of a submission, then the same call.

A child process submits and SIGKILLs itself when the submission reports a stage
(``on_progress``: validated, uploading, uploaded, creating, created), or is killed from
outside at the worst moments: while the create request is at the provider (the job exists,
the answer never arrives) and, at Together, after the file's bytes were PUT but before
``/preprocess`` was carried out. Then the same call from a new process with the same home
must end with exactly one job within 60 s (the killed holder's lock is gone with it, a
half-processed file is processed again, a created job is adopted).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("openai")
pytest.importorskip("together")
pytest.importorskip("fireworks")

from _harness import (
    MODELS,
    PROVIDERS,
    child_env,
    emulator,
    finish,
    remote_jobs,
    start_child,
    wait_for,
    write_dataset,
)

import tuneport
from tuneport.emulator import Emulator

pytestmark = pytest.mark.filterwarnings(
    "ignore::tuneport.client.preparing.ProviderAvailabilityWarning"
)
POLICY = tuneport.RetryPolicy(attempts=4, initial_backoff=0.02, max_backoff=0.2)

STAGES = ("validated", "uploading", "uploaded", "creating", "created")
CREATE_PATH = {"openai": "/fine_tuning/jobs", "together": "/v1/fine-tunes",
               "fireworks": "/supervisedFineTuningJobs"}
RECOVERY_SECONDS = 60.0


def resubmit(emu: Emulator, provider: str, data: Path, home: Path) -> str:
    """The same call again (here, in this process); its job id, after checking its time."""
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in child_env(emu, home).items():
            mp.setenv(name, value)
        with tuneport.Client(provider=provider, retry=POLICY) as client:
            job = client.fine_tune(data, model=MODELS[provider])
    assert time.monotonic() - started < RECOVERY_SECONDS
    return job.id


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_killed_at_a_stage_then_the_same_call_makes_one_job(
    provider: str, stage: str, tmp_path: Path
) -> None:
    data, home = write_dataset(tmp_path, f"kill-{provider}-{stage}"), tmp_path / "home"
    with emulator() as emu:
        code, _, err = finish(start_child(emu, provider, [data], home, kill_at=stage))
        assert code == -signal.SIGKILL, err
        job_id = resubmit(emu, provider, data, home)
        jobs = remote_jobs(emu, provider)
    assert len(jobs) == 1
    assert job_id.split("/")[-1] in json.dumps(jobs[0])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_killed_while_the_create_is_at_the_provider(provider: str, tmp_path: Path) -> None:
    """The provider made the job; the process dies before the answer: the next call adopts."""
    data, home = write_dataset(tmp_path, f"inflight-{provider}"), tmp_path / "home"
    with emulator(timeout_seconds=30.0) as emu:
        emu.faults.schedule("timeout", provider=provider, path_contains=CREATE_PATH[provider],
                            method="POST")
        child = start_child(emu, provider, [data], home)
        wait_for(lambda: len(remote_jobs(emu, provider)) == 1, 60.0, "the job", [child])
        child.send_signal(signal.SIGKILL)
        assert finish(child)[0] == -signal.SIGKILL
        job_id = resubmit(emu, provider, data, home)
        jobs = remote_jobs(emu, provider)
    assert len(jobs) == 1
    assert job_id.split("/")[-1] in json.dumps(jobs[0])


def test_killed_between_the_put_and_preprocess_at_together(tmp_path: Path) -> None:
    """The bytes are stored but never processed: a re-upload gets this file back ("same
    contents"), still PENDING. It is processed again, not waited on for 600 s."""
    data, home = write_dataset(tmp_path, "put-no-preprocess"), tmp_path / "home"
    with emulator() as emu:
        emu.faults.schedule("server_error", provider="together", path_contains="/preprocess",
                            times=100)
        child = start_child(emu, "together", [data], home)
        wait_for(lambda: any(e.path.endswith("/preprocess") and e.status == 500
                             for e in emu.exchanges), 60.0, "a refused /preprocess", [child])
        child.send_signal(signal.SIGKILL)
        assert finish(child)[0] == -signal.SIGKILL
        emu.faults.clear()
        [stuck] = emu.state.store.list("together", "file")
        assert stuck["_uploaded"]
        assert stuck["_processed_at"] is None
        job_id = resubmit(emu, "together", data, home)
        jobs = remote_jobs(emu, "together")
        files = emu.state.store.list("together", "file")
    assert len(jobs) == 1
    assert jobs[0]["id"] == job_id
    assert [f["id"] for f in files] == [stuck["id"]]  # the same file, now processed
    assert jobs[0]["training_file"] == stuck["id"]
