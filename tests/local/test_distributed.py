"""Two processes with the gloo backend on CPU: DDP (LoRA) and FSDP (full fine-tuning).

Each distributed run is compared with the same run in one process: the same per-step
losses and the same final weights prove that N ranks train exactly the one-process model.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from local_helpers import log_of, start, wait
from safetensors.torch import load_file

from tuneport._exceptions import UnsupportedFeatureError
from tuneport._models import JobStatus
from tuneport.providers.local import LocalProvider


def _losses(provider: LocalProvider, job_id: str) -> list[float]:
    return [p.train_loss for p in provider.metrics(job_id) if p.train_loss is not None]


def _assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor],
                         tol: float) -> None:
    assert sorted(a) == sorted(b)
    worst = max(float((tensor - b[name]).abs().max()) for name, tensor in a.items())
    assert worst < tol  # summation order differs between layouts: float noise only


@pytest.mark.slow  # three trainer processes, about 20 s
def test_ddp_lora_under_accelerate_launch_equals_one_process(
        provider: LocalProvider, home: Path, tiny_data: Path, tiny_model_path: Path) -> None:
    options = {"max_steps": 8, "validation_split": 0.0}
    single = start(provider, tiny_data, tiny_model_path, key="one", provider_options=options)
    ddp = start(provider, tiny_data, tiny_model_path, key="ddp",
                provider_options={**options, "devices": 2, "launcher": "accelerate"})
    assert ddp.hyperparameters["devices"] == 2
    single, ddp = wait(provider, single.id), wait(provider, ddp.id, timeout=240)
    assert ddp.status is JobStatus.SUCCEEDED, log_of(home, ddp.id)
    assert single.status is JobStatus.SUCCEEDED, log_of(home, single.id)

    started = next(e for e in provider.events(ddp.id) if e.data.get("distributed"))
    assert started.data == {"distributed": "ddp", "world_size": 2, "total_steps": 8,
                            "precision": "no", "gradient_checkpointing": False}
    assert "(DDP)" in started.message
    checksums = ddp.raw["rank_checksums"]
    assert len(checksums) == 2
    assert checksums[0] == checksums[1]  # both ranks hold the same model
    assert _losses(provider, ddp.id) == pytest.approx(_losses(provider, single.id), rel=1e-5)
    _assert_same_tensors(
        load_file(Path(ddp.fine_tuned_model or "") / "adapter_model.safetensors"),
        load_file(Path(single.fine_tuned_model or "") / "adapter_model.safetensors"), 1e-4)
    records = [json.loads(line) for line in (home / "throughput.jsonl").read_text().splitlines()]
    by_job = {r["job_id"]: r for r in records}
    assert by_job[ddp.id]["n_devices"] == 2
    assert by_job[ddp.id]["distributed"] == "ddp"
    assert by_job[single.id]["distributed"] is None


@pytest.mark.slow  # five trainer processes, about 40 s
def test_fsdp_full_fine_tuning_resumes_and_equals_one_process(
        provider: LocalProvider, home: Path, tiny_data: Path, tiny_model_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"method": "full", "epochs": 1, "learning_rate": 3e-3}
    options = {"max_steps": 8, "save_every": 2, "validation_split": 0.0}
    single = start(provider, tiny_data, tiny_model_path, key="one", provider_options=options,
                   **spec)
    monkeypatch.setenv("TUNEPORT_LOCAL_STEP_DELAY", "0.3")
    fsdp = start(provider, tiny_data, tiny_model_path, key="fsdp",
                 provider_options={**options, "devices": 2}, **spec)  # auto: FSDP for full
    monkeypatch.delenv("TUNEPORT_LOCAL_STEP_DELAY")
    wait(provider, fsdp.id, timeout=240, until=lambda j: (j.raw.get("step") or 0) >= 3)
    os.killpg(int(fsdp.raw["launcher_pid"]), signal.SIGTERM)  # torchrun and both ranks
    fsdp = wait(provider, fsdp.id)
    assert fsdp.provider_status == "interrupted", log_of(home, fsdp.id)
    stopped_at = fsdp.raw["step"]
    assert provider.checkpoints(fsdp.id)[-1].step == stopped_at  # gathered from both shards

    fsdp = wait(provider, provider.restart_job(fsdp.id).id, timeout=240)
    single = wait(provider, single.id)
    assert fsdp.status is JobStatus.SUCCEEDED, log_of(home, fsdp.id)
    assert single.status is JobStatus.SUCCEEDED, log_of(home, single.id)
    assert any(e.data.get("distributed") == "fsdp" for e in provider.events(fsdp.id))
    assert [p.step for p in provider.metrics(fsdp.id)] == list(range(1, 9))
    assert _losses(provider, fsdp.id) == pytest.approx(_losses(provider, single.id), rel=1e-5)
    assert fsdp.raw["rank_checksums"] is None  # sharded: no rank holds a replica
    # The gathered model is saved like a one-process one (tied LM head saved once).
    _assert_same_tensors(
        load_file(Path(fsdp.fine_tuned_model or "") / "model.safetensors"),
        load_file(Path(single.fine_tuned_model or "") / "model.safetensors"), 1e-4)


def test_fsdp_is_for_full_fine_tuning(provider: LocalProvider, tiny_data: Path,
                                      tiny_model_path: Path) -> None:
    with pytest.raises(UnsupportedFeatureError, match="distributed='ddp'"):
        start(provider, tiny_data, tiny_model_path,
              provider_options={"devices": 2, "distributed": "fsdp"})
