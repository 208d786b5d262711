"""End-to-end local runs on the tiny model: LoRA, full FT + wandb offline, cancel, resume."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from local_helpers import log_of, start, wait
from safetensors.torch import load_file

from tuneport._exceptions import NotFoundError
from tuneport._models import JobStatus, WandbConfig
from tuneport.providers.local import LocalProvider


def test_lora_run_succeeds_with_falling_loss(provider: LocalProvider, home: Path,
                                             tiny_data: Path, tiny_model_path: Path) -> None:
    job = start(provider, tiny_data, tiny_model_path, key="lora-1")
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)  # returned at once
    job = wait(provider, job.id)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    assert job.trained_tokens
    assert job.trained_tokens > 1000
    assert job.actual_cost_usd is not None
    assert job.progress == 1.0

    points = provider.metrics(job.id)
    losses = [p.train_loss for p in points if p.train_loss is not None]
    assert len(losses) == 46  # 180 train examples / 8 per step = 23 steps x 2 epochs
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    evals = [p.eval_loss for p in points if p.eval_loss is not None]
    assert len(evals) >= 2
    assert evals[-1] < evals[0]
    assert all(p.tokens_per_second and p.learning_rate is not None for p in points)

    adapter = Path(job.fine_tuned_model or "")
    assert (adapter / "adapter_model.safetensors").is_file()
    report = next(e for e in provider.events(job.id) if e.type == "data_report")
    assert report.data["n_train"] == 180
    assert report.data["n_validation"] == 20

    record = json.loads((home / "throughput.jsonl").read_text().splitlines()[-1])
    assert record["job_id"] == job.id
    assert record["device"] == "cpu"
    assert record["trained_tokens"] == job.trained_tokens
    assert record["tokens_per_second"] > 0

    # Idempotency: the key is found again; the endpoint says how to call the adapter.
    found = provider.find_job("lora-1")
    assert found is not None
    assert found.id == job.id
    assert provider.find_job("other") is None
    endpoint = provider.endpoint(job)
    assert endpoint.kind == "local"
    assert endpoint.adapter_path == adapter
    assert endpoint.base_model == str(tiny_model_path)
    assert endpoint.model == job.id
    # The endpoint's own chat helper answers in-process with base model + adapter.
    reply = endpoint.chat([{"role": "user", "content": "Say hello to the cow."}], max_tokens=8)
    assert isinstance(reply, str)
    assert reply.strip()
    assert [j.id for j in provider.list_jobs()] == [job.id]
    events_after = provider.events(job.id, after=provider.events(job.id)[-2].id)
    assert len(events_after) == 1


def test_full_fine_tuning_with_wandb_offline(provider: LocalProvider, home: Path,
                                             tiny_data: Path, tiny_model_path: Path) -> None:
    pytest.importorskip("wandb")
    job = start(provider, tiny_data, tiny_model_path, key="full-1", method="full",
                epochs=1, learning_rate=3e-3, wandb=WandbConfig(project="tuneport-tests"))
    job = wait(provider, job.id)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    assert (Path(job.fine_tuned_model or "") / "model.safetensors").is_file()
    original = load_file(tiny_model_path / "model.safetensors")
    tuned = load_file(Path(job.fine_tuned_model or "") / "model.safetensors")
    changed = [k for k in original if not (original[k] == tuned[k]).all()]
    assert len(changed) > len(original) // 2  # every weight trains in full fine-tuning
    run_dir = home / "runs" / job.id
    assert list((run_dir / "wandb").glob("offline-run-*")), "wandb offline run missing"


def test_sigterm_checkpoint_and_resume_gives_the_same_model(
        provider: LocalProvider, home: Path, tiny_data: Path, tiny_model_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    options = {"max_steps": 16, "save_every": 3, "validation_split": 0.0}
    straight = start(provider, tiny_data, tiny_model_path, key="straight",
                     provider_options=dict(options))
    monkeypatch.setenv("TUNEPORT_LOCAL_STEP_DELAY", "0.2")
    job = start(provider, tiny_data, tiny_model_path, key="interrupted",
                provider_options=dict(options))
    monkeypatch.delenv("TUNEPORT_LOCAL_STEP_DELAY")
    wait(provider, job.id, until=lambda j: (j.raw.get("step") or 0) >= 6)
    os.killpg(int(job.raw["launcher_pid"]), signal.SIGTERM)  # pre-emption, not cancel
    job = wait(provider, job.id)
    assert job.status is JobStatus.PAUSED
    assert job.provider_status == "interrupted"
    stopped_at = job.raw["step"]
    assert 6 <= stopped_at < 16
    assert provider.checkpoints(job.id)[-1].step == stopped_at

    job = provider.restart_job(job.id)
    job = wait(provider, job.id)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    assert any(e.type == "resume" and e.step == stopped_at for e in provider.events(job.id))
    steps = [p.step for p in provider.metrics(job.id)]
    assert steps == list(range(1, 17))  # every step exactly once

    straight = wait(provider, straight.id)
    assert straight.status is JobStatus.SUCCEEDED
    resumed_weights = load_file(Path(job.fine_tuned_model or "") / "adapter_model.safetensors")
    straight_weights = load_file(
        Path(straight.fine_tuned_model or "") / "adapter_model.safetensors")
    for name, tensor in straight_weights.items():
        assert (resumed_weights[name] - tensor).abs().max() < 1e-5, name


def test_cancel_stops_cleanly_and_a_crash_is_reported(
        provider: LocalProvider, home: Path, tiny_data: Path, tiny_model_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_LOCAL_STEP_DELAY", "0.3")
    job = start(provider, tiny_data, tiny_model_path, key="cancel",
                provider_options={"max_steps": 200})
    crash = start(provider, tiny_data, tiny_model_path, key="crash",
                  provider_options={"max_steps": 200, "save_every": 2})
    wait(provider, job.id, until=lambda j: (j.raw.get("step") or 0) >= 2)
    cancelled = provider.cancel_job(job.id)
    assert cancelled.status in (JobStatus.CANCELLING, JobStatus.CANCELLED)
    cancelled = wait(provider, job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert provider.cancel_job(job.id).status is JobStatus.CANCELLED  # idempotent

    wait(provider, crash.id, until=lambda j: (j.raw.get("step") or 0) >= 3)
    os.killpg(int(crash.raw["launcher_pid"]), signal.SIGKILL)
    crashed = wait(provider, crash.id)
    assert crashed.status is JobStatus.FAILED
    assert crashed.provider_status == "crashed"
    assert crashed.error is not None
    assert "resume" in crashed.error.message
    assert provider.checkpoints(crash.id)
    provider.cancel_job(crash.id)

    with pytest.raises(NotFoundError):
        provider.get_job("local-does-not-exist")
