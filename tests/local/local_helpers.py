"""Helpers shared by the local-backend tests (start a run, wait for it, read its log)."""

from __future__ import annotations

import time
from pathlib import Path

from tuneport._models import FineTuneSpec, Job, RenderedDataset
from tuneport.providers.local import LocalProvider


def upload(provider: LocalProvider, path: Path) -> object:
    return provider.upload(RenderedDataset(
        provider="local", path=path, fingerprint=path.stem + str(path.stat().st_size),
        n_examples=len(path.read_text().splitlines()), n_bytes=path.stat().st_size, format="chat"))


def start(provider: LocalProvider, data: Path, model: Path, key: str = "k", **spec: object) -> Job:
    options = dict(spec.pop("provider_options", {}) or {})  # type: ignore[call-overload]
    options.setdefault("threads", 1)
    fields = {"epochs": 2, "learning_rate": 1e-2, "batch_size": 8, **spec}
    ft = FineTuneSpec(model=str(model), provider_options=options, **fields)  # type: ignore[arg-type]
    return provider.create_job(upload(provider, data), ft, key)  # type: ignore[arg-type]


def wait(provider: LocalProvider, job_id: str, timeout: float = 120.0,
         until: object = None) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = provider.get_job(job_id)
        if until is not None and until(job):  # type: ignore[operator]
            return job
        if job.is_terminal or (until is None and job.provider_status == "interrupted"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {provider.get_job(job_id).status} after {timeout}s")


def log_of(home: Path, job_id: str) -> str:
    return (home / "runs" / job_id / "trainer.log").read_text()
