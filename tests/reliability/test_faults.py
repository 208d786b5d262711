"""Guarantee 2: nothing doubled, nothing lost under transport faults.

300 submissions (100 per provider, half from threads with ``Client``, half from
``AsyncClient``) against an emulator where 30% of all requests meet a fault (429 with
Retry-After, 500, 503, an answer later than the client waits, a create whose answer is
cut after the job was made). A submission whose ``fine_tune`` raises is called again, at
most twice. Counted from the emulator's own records: every submission ends with one job
(0 lost), no key has two jobs (0 duplicates). A Together file left unprocessed (a fault on
``/preprocess``) must be processed again, never waited on.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("openai")
pytest.importorskip("together")
pytest.importorskip("fireworks")

from _harness import MODELS, PROVIDERS, emulator, remote_jobs, write_dataset

import tuneport
from tuneport.emulator import Emulator
from tuneport.providers import _hosted
from tuneport.providers.fireworks import FireworksProvider
from tuneport.providers.together import TOKEN_PREFIX

PER_PROVIDER = int(os.environ.get("TUNEPORT_RELIABILITY_FAULT_SUBMISSIONS", "100"))
FAULT_RATE = 0.3
REPEATS = 2  # a failed fine_tune call is made again at most this many times
POLICY = tuneport.RetryPolicy(attempts=4, initial_backoff=0.01, max_backoff=0.1)


def marker(provider: str, key: str) -> str:
    """What a job record at ``provider`` carries for ``key`` (how the key travels)."""
    if provider == "together":
        return TOKEN_PREFIX + _hosted.idempotency_token(key)
    if provider == "fireworks":
        return FireworksProvider.job_id_for(key)
    return key  # OpenAI: metadata["tuneport_key"]


class Outcome:
    """One submission: the keys it used, its answers and the errors of failed calls."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.keys: set[str] = set()
        self.job_id: str | None = None
        self.errors: list[str] = []

    def progress(self, stage: str, info: dict[str, Any]) -> None:
        if "idempotency_key" in info:
            self.keys.add(str(info["idempotency_key"]))


def submit_sync(client: tuneport.Client, outcome: Outcome, data: Path) -> None:
    for _ in range(1 + REPEATS):
        try:
            job = client.fine_tune(data, model=MODELS[outcome.provider],
                                   on_progress=outcome.progress)
        except tuneport.TuneportError as exc:
            outcome.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        outcome.job_id = job.id
        outcome.keys.add(str(job.idempotency_key))
        return


async def submit_async(client: tuneport.AsyncClient, outcome: Outcome, data: Path,
                       slots: asyncio.Semaphore) -> None:
    async with slots:
        for _ in range(1 + REPEATS):
            try:
                job = await client.fine_tune(data, model=MODELS[outcome.provider],
                                             on_progress=outcome.progress)
            except tuneport.TuneportError as exc:
                outcome.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            outcome.job_id = job.id
            outcome.keys.add(str(job.idempotency_key))
            return


def tally(emu: Emulator, outcomes: list[Outcome]) -> dict[str, Any]:
    """Duplicates and losses as the provider sees them."""
    records = {p: [json.dumps(r) for r in remote_jobs(emu, p)] for p in PROVIDERS}
    duplicates = lost = orphans = 0
    matched: dict[str, int] = dict.fromkeys(PROVIDERS, 0)
    for o in outcomes:
        if not o.keys:  # every call failed before the key was known
            lost += 1
            continue
        assert len(o.keys) == 1, o.keys  # the same call always derives the same key
        key = next(iter(o.keys))
        mine = [r for r in records[o.provider] if marker(o.provider, key) in r]
        matched[o.provider] += len(mine)
        duplicates += max(0, len(mine) - 1)
        if o.job_id is None:
            lost += 1
        else:
            # The id the caller got is the job carrying its key.
            assert any(o.job_id.split("/")[-1] in r for r in mine), o.job_id
    for p in PROVIDERS:
        orphans += len(records[p]) - matched[p]
    return {"submissions": len(outcomes), "duplicates": duplicates, "lost": lost,
            "jobs_without_submission": orphans,
            "calls_repeated": sum(len(o.errors) for o in outcomes),
            "why_repeated": dict(Counter(e.split(" failed")[0].split(" timed out")[0][:70]
                                         for o in outcomes for e in o.errors)),
            "jobs": {p: len(records[p]) for p in PROVIDERS}}


@pytest.mark.filterwarnings("ignore::tuneport.client.preparing.ProviderAvailabilityWarning")
def test_300_submissions_at_30_percent_faults(tmp_path: Path) -> None:
    datasets = {p: [write_dataset(tmp_path, f"{p}-{i}") for i in range(PER_PROVIDER)]
                for p in PROVIDERS}
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with emulator(fault_rate=FAULT_RATE, seed=9, file_seconds=0.2,
                  timeout_seconds=2.0) as emu, pytest.MonkeyPatch.context() as mp:
        for name, value in emu.env().items():
            mp.setenv(name, value)
        half = PER_PROVIDER // 2
        sync_clients = {p: tuneport.Client(provider=p, timeout=1.0, retry=POLICY)
                        for p in PROVIDERS}
        jobs: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        for p in PROVIDERS:
            for data in datasets[p][:half]:
                outcome = Outcome(p)
                outcomes.append(outcome)
                jobs.append((submit_sync, (sync_clients[p], outcome, data)))
        with ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(fn, *args) for fn, args in jobs]:
                future.result(timeout=600)
        for c in sync_clients.values():
            c.close()

        async def run_async() -> None:
            slots = asyncio.Semaphore(8)
            clients = {p: tuneport.AsyncClient(provider=p, timeout=1.0, retry=POLICY)
                       for p in PROVIDERS}
            tasks = []
            for p in PROVIDERS:
                for data in datasets[p][half:]:
                    outcome = Outcome(p)
                    outcomes.append(outcome)
                    tasks.append(submit_async(clients[p], outcome, data, slots))
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
            for c in clients.values():
                await c.close()

        asyncio.run(run_async())
        faults = sum(1 for e in emu.exchanges if e.status in (429, 500, 503))
        figures = tally(emu, outcomes)
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["answers_with_an_error_status"] = faults
    print("\nfault figures:", json.dumps(figures))
    for o in outcomes:
        if o.job_id is None:
            print("lost:", o.provider, *o.errors, sep="\n  ")
    assert figures["duplicates"] == 0, figures
    assert figures["lost"] == 0, (figures, [o.errors for o in outcomes if o.job_id is None])
    assert figures["jobs_without_submission"] == 0, figures
    assert figures["submissions"] == 3 * PER_PROVIDER
