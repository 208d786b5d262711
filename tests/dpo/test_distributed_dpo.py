"""Local DPO under a launcher: two gloo processes (DDP for dpo-lora, FSDP for dpo-full) train
exactly what one process trains (same step losses, rewards and final weights)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from tuneport._models import FineTuneSpec, Job, JobStatus, RenderedDataset  # noqa: E402


def _start(provider: Any, data: Path, model: Path, key: str, method: str,
           **options: Any) -> Job:
    spec = FineTuneSpec(model=str(model), method=method, beta=0.2, epochs=1,
                        learning_rate=5e-3, batch_size=8,
                        provider_options={"threads": 1, "max_steps": 4,
                                          "validation_split": 0.0, **options})
    remote = provider.upload(RenderedDataset(
        provider="local", path=data, fingerprint="pairs", n_examples=64,
        n_bytes=data.stat().st_size, format="preference"))
    job: Job = provider.create_job(remote, spec, key)
    return job


def _wait(provider: Any, job_id: str, timeout: float = 300.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: Job = provider.get_job(job_id)
        if job.is_terminal:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def _series(provider: Any, job_id: str) -> list[tuple[float, float, float]]:
    return [(p.train_loss, p.reward_margin, p.preference_accuracy)
            for p in provider.metrics(job_id)]


@pytest.mark.slow  # three trainer processes
def test_dpo_lora_on_two_ddp_ranks_equals_one_process(
        local_provider: Any, home: Path, pairs_file: Path, tiny_model_path: Path) -> None:
    one = _start(local_provider, pairs_file, tiny_model_path, "one", "dpo-lora")
    two = _start(local_provider, pairs_file, tiny_model_path, "two", "dpo-lora", devices=2)
    one, two = _wait(local_provider, one.id), _wait(local_provider, two.id)
    assert one.status is JobStatus.SUCCEEDED, local_provider.events(one.id)[-1].message
    assert two.status is JobStatus.SUCCEEDED, local_provider.events(two.id)[-1].message
    started = next(e for e in local_provider.events(two.id) if e.data.get("distributed"))
    assert started.data["distributed"] == "ddp"
    assert started.data["world_size"] == 2
    a, b = _series(local_provider, one.id), _series(local_provider, two.id)
    assert len(a) == len(b) == 4
    for x, y in zip(a, b, strict=True):
        assert x == pytest.approx(y, rel=1e-4, abs=1e-5)
    assert a[-1][2] > 0  # it learned something, so equal series mean something
    ours = load_file(Path(two.fine_tuned_model or "") / "adapter_model.safetensors")
    theirs = load_file(Path(one.fine_tuned_model or "") / "adapter_model.safetensors")
    assert sorted(ours) == sorted(theirs)
    worst = max(float((t - theirs[n]).abs().max()) for n, t in ours.items())
    assert worst < 1e-4


@pytest.mark.slow  # three trainer processes
def test_dpo_full_on_two_fsdp_ranks_equals_one_process(
        local_provider: Any, home: Path, pairs_file: Path, tiny_model_path: Path) -> None:
    one = _start(local_provider, pairs_file, tiny_model_path, "one-full", "dpo-full")
    two = _start(local_provider, pairs_file, tiny_model_path, "two-full", "dpo-full",
                 devices=2)
    one, two = _wait(local_provider, one.id), _wait(local_provider, two.id)
    assert one.status is JobStatus.SUCCEEDED, local_provider.events(one.id)[-1].message
    assert two.status is JobStatus.SUCCEEDED, local_provider.events(two.id)[-1].message
    started = next(e for e in local_provider.events(two.id) if e.data.get("distributed"))
    assert started.data["distributed"] == "fsdp"
    a, b = _series(local_provider, one.id), _series(local_provider, two.id)
    for x, y in zip(a, b, strict=True):
        assert x == pytest.approx(y, rel=1e-4, abs=1e-5)
