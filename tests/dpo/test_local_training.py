"""Local DPO end to end: a job on the tiny model learns the preference, reports the DPO
metrics per step, and full fine-tuning trains against precomputed reference log-probs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from tuneport._models import FineTuneSpec, Job, JobStatus, RenderedDataset


def _start(provider: Any, data: Path, model: Path, key: str, **spec: Any) -> Job:
    options = {"threads": 1, **spec.pop("provider_options", {})}
    fields = {"epochs": 2, "learning_rate": 5e-3, "batch_size": 8, **spec}
    ft = FineTuneSpec(model=str(model), provider_options=options, **fields)
    remote = provider.upload(RenderedDataset(
        provider="local", path=data, fingerprint=key, n_examples=64,
        n_bytes=data.stat().st_size, format="preference"))
    job: Job = provider.create_job(remote, ft, key)
    return job


def _wait(provider: Any, job_id: str, timeout: float = 240.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: Job = provider.get_job(job_id)
        if job.is_terminal:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def test_dpo_lora_learns_a_separable_preference(local_provider: Any, pairs_file: Path,
                                                tiny_model_path: Path, home: Path) -> None:
    job = _start(local_provider, pairs_file, tiny_model_path, "dpo-lora", method="dpo-lora",
                 beta=0.1, provider_options={"validation_split": 0.0})
    done = _wait(local_provider, job.id)
    assert done.status is JobStatus.SUCCEEDED, local_provider.events(job.id)[-1].message
    points = local_provider.metrics(job.id)
    assert len(points) == 16
    first, last = points[0], points[-1]
    # Step 1: policy == reference (LoRA B starts at zero): loss log 2, rewards 0.
    assert first.train_loss == pytest.approx(0.693147, abs=1e-4)
    assert first.rewards_chosen == pytest.approx(0.0, abs=1e-5)
    assert first.preference_accuracy == 0.0
    late = points[-4:]
    assert min(p.preference_accuracy or 0.0 for p in late) >= 0.9
    assert last.train_loss is not None
    assert last.train_loss < 0.5
    assert last.reward_margin == pytest.approx(
        (last.rewards_chosen or 0) - (last.rewards_rejected or 0), abs=1e-6)
    # Measured DPO throughput feeds the cost engine under dpo-lora (k = 6), not lora.
    assert done.raw["throughput"]["method"] == "dpo-lora"
    config = json.loads((home / "runs" / job.id / "config.json").read_text())
    assert (config["method"], config["objective"], config["beta"]) == ("lora", "dpo", 0.1)
    messages = [e.message for e in local_provider.events(job.id) if e.type == "metrics"]
    assert "margin" in messages[-1]
    assert "accuracy" in messages[-1]

    from typer.testing import CliRunner

    from tuneport.cli import app

    shown = CliRunner().invoke(app, ["metrics", f"local:{job.id}", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)["metrics"]
    assert [r["preference_accuracy"] for r in rows] == [p.preference_accuracy for p in points]
    table = CliRunner().invoke(app, ["metrics", f"local:{job.id}"], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "margin" in table.output
    assert "accuracy" in table.output


def test_dpo_full_trains_against_reference_log_probs(local_provider: Any, pairs_file: Path,
                                                     tiny_model_path: Path) -> None:
    job = _start(local_provider, pairs_file, tiny_model_path, "dpo-full", method="dpo-full",
                 beta=0.5, epochs=1, learning_rate=1e-3,
                 provider_options={"validation_split": 0.25})
    done = _wait(local_provider, job.id)
    assert done.status is JobStatus.SUCCEEDED, local_provider.events(job.id)[-1].message
    points = local_provider.metrics(job.id)
    assert points[0].train_loss == pytest.approx(0.693147, abs=1e-4)
    assert points[-1].eval_loss is not None
    assert points[-1].eval_loss < 0.693147
    assert (points[-1].preference_accuracy or 0.0) > 0.5
