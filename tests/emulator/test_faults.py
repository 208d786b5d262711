"""Every transport fault, seen through every official SDK the way the real service causes it.

Each fault kind (429 with ``Retry-After``, 500, 503, an answer slower than the client's
timeout, a connection cut after a job was created) is scheduled once and met by the
``openai``, ``together`` and ``fireworks-ai`` SDKs, unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")
together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")

from tuneport.emulator import Emulator  # noqa: E402

from . import test_fireworks_contract as fw  # noqa: E402
from . import test_openai_contract as oa  # noqa: E402
from . import test_together_contract as tg  # noqa: E402


@dataclass(frozen=True)
class Sdk:
    """How one SDK lists jobs, creates one, and counts the jobs that exist."""

    module: Any
    client: Callable[..., Any]
    list_jobs: Callable[[Any], object]
    # (emulator, client, training file) -> a zero-argument job create, after any upload
    prepare_create: Callable[[Emulator, Any, Path], Callable[[], object]]
    count_jobs: Callable[[Any], int]


def _openai_create(emu: Emulator, c: Any, path: Path) -> Callable[[], object]:
    fid = c.files.create(file=path, purpose="fine-tune").id
    return lambda: c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=fid,
                                             metadata={"client_token": "t1"})


def _together_create(emu: Emulator, c: Any, path: Path) -> Callable[[], object]:
    fid = tg.upload_ready(emu, c, path)
    return lambda: c.fine_tuning.create(training_file=fid, model=tg.MODEL, suffix="once")


def _fireworks_create(emu: Emulator, c: Any, path: Path) -> Callable[[], object]:
    dataset = fw.ready_dataset(emu, c, path)
    return lambda: c.supervised_fine_tuning_jobs.create(
        dataset=dataset, base_model=fw.BASE, extra_query={"supervisedFineTuningJobId": "job-1"})


SDKS = {
    "openai": Sdk(openai, oa.client, lambda c: c.fine_tuning.jobs.list(), _openai_create,
                  lambda c: len(c.fine_tuning.jobs.list().data)),
    "together": Sdk(together, tg.client, lambda c: c.fine_tuning.list(), _together_create,
                    lambda c: len(c.fine_tuning.list().data)),
    "fireworks": Sdk(fireworks, fw.client, lambda c: list(c.supervised_fine_tuning_jobs.list()),
                     _fireworks_create, lambda c: len(list(c.supervised_fine_tuning_jobs.list()))),
}
PROVIDERS = sorted(SDKS)


def _error_message(provider: str, body: Any) -> str:
    # OpenAI and Together nest their error; Fireworks sends a google.rpc status.
    if provider == "fireworks":
        assert isinstance(body["code"], int)
        return str(body["message"])
    return str(body["message"] if "message" in body else body["error"]["message"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limit_429_with_retry_after(emu: Emulator, provider: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sdk = SDKS[provider]
    emu.faults.schedule("rate_limit", provider=provider)
    with pytest.raises(sdk.module.RateLimitError) as exc:
        sdk.list_jobs(sdk.client(emu))
    assert exc.value.status_code == 429
    assert exc.value.response.headers["retry-after"] == "0.05"
    if provider == "openai":
        assert exc.value.response.headers["retry-after-ms"] == "50"
    assert "Rate limit" in _error_message(provider, exc.value.body)
    # With retries on, the SDK waits what Retry-After asks (0.05 s here), far less than its
    # own back-off (at least ~0.4 s), and then succeeds.
    # The waits the SDK asks for are recorded (and still taken), not timed: a busy machine
    # stretches wall time, never the asked-for wait.
    waits: list[float] = []
    real_sleep = time.sleep
    caller = threading.get_ident()

    def recording_sleep(seconds: float) -> None:
        if threading.get_ident() == caller:
            waits.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", recording_sleep)
    emu.faults.schedule("rate_limit", provider=provider)
    sdk.list_jobs(sdk.client(emu, max_retries=1))
    monkeypatch.setattr(time, "sleep", real_sleep)
    assert waits
    assert max(waits) < 0.35
    assert [x.status for x in emu.exchanges if x.provider == provider][-2:] == [429, 200]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("kind", "status"), [("server_error", 500), ("unavailable", 503)])
def test_server_errors(emu: Emulator, provider: str, kind: str, status: int) -> None:
    sdk = SDKS[provider]
    emu.faults.schedule(kind, provider=provider)
    with pytest.raises(sdk.module.InternalServerError) as exc:
        sdk.list_jobs(sdk.client(emu))
    assert exc.value.status_code == status
    assert _error_message(provider, exc.value.body)
    sdk.list_jobs(sdk.client(emu))  # the fault was one request; the next one is answered


@pytest.mark.parametrize("provider", PROVIDERS)
def test_answer_slower_than_the_client_timeout(emu: Emulator, provider: str) -> None:
    sdk = SDKS[provider]
    emu.faults.schedule("timeout", provider=provider)
    started = time.monotonic()
    with pytest.raises(sdk.module.APITimeoutError):
        sdk.list_jobs(sdk.client(emu, timeout=0.3))
    assert time.monotonic() - started < 1.5  # the client gave up; the emulator did not answer


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_dropped_after_the_job_was_created(emu: Emulator, provider: str,
                                                      train_file: Path) -> None:
    sdk = SDKS[provider]
    c = sdk.client(emu)
    create = sdk.prepare_create(emu, c, train_file)
    emu.faults.schedule("drop", provider=provider)
    with pytest.raises(sdk.module.APIConnectionError):
        create()
    # The service created the job although the client never saw the answer.
    assert sdk.count_jobs(c) == 1
    if provider == "fireworks":
        # A client-chosen id makes the retry safe: 409, then adopt the job.
        with pytest.raises(fireworks.ConflictError):
            create()
    else:
        create()  # no idempotency on OpenAI or Together: a blind retry is a second job
    assert sdk.count_jobs(c) == (1 if provider == "fireworks" else 2)


def test_openai_adopts_the_dropped_job_by_its_metadata(emu: Emulator, train_file: Path) -> None:
    c = oa.client(emu)
    create = _openai_create(emu, c, train_file)
    emu.faults.schedule("drop", provider="openai")
    with pytest.raises(openai.APIConnectionError):
        create()
    found = c.fine_tuning.jobs.list(metadata={"client_token": "t1"}).data
    assert len(found) == 1
    assert found[0].status == "validating_files"


def test_a_drop_only_strikes_a_job_create(emu: Emulator) -> None:
    # A scheduled drop waits for a request that creates a job; reads pass untouched.
    emu.faults.schedule("drop", provider="openai")
    assert oa.client(emu).fine_tuning.jobs.list().data == []
    assert emu.exchanges[-1].status == 200
