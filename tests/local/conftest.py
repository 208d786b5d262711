"""Fixtures of the local-backend tests: a tiny model built offline, data, an isolated home."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from tuneport._models import FineTuneSpec, Job, RenderedDataset  # noqa: E402
from tuneport.providers.local import LocalProvider  # noqa: E402
from tuneport.testing import tiny_chat_examples, tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in tiny_chat_examples(200)))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNEPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    return tmp_path / "home"


@pytest.fixture
def provider(home: Path) -> Iterator[LocalProvider]:
    prov = LocalProvider()
    yield prov
    # Never leave a trainer behind, whatever the test did.
    for job in prov.list_jobs():
        if not job.is_terminal:
            prov.cancel_job(job.id)


def upload(provider: LocalProvider, path: Path) -> object:
    return provider.upload(RenderedDataset(
        provider="local", path=path, fingerprint=path.stem + str(path.stat().st_size),
        n_examples=sum(1 for _ in path.open()), n_bytes=path.stat().st_size, format="chat"))


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
