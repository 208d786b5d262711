"""Gradient checkpointing and mixed precision are honoured (checked on CPU, tiny model).

Four short LoRA runs start together once per module (fp32 defaults, checkpointing on,
bf16, fp16) and the tests compare their per-step losses and what each run recorded.
Checkpointing recomputes activations without changing the maths, so its losses must
equal fp32's; reduced precision must change them a little, not a lot.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from local_helpers import log_of, start, wait

from tuneport._models import FineTuneSpec, Job, JobStatus
from tuneport.local.config import config_from_spec
from tuneport.local.rundir import RunDir, write_json_atomic
from tuneport.providers.local import LocalProvider

# Few steps keep the module fast; 8 steps at lr 1e-2 already halve the tiny model's loss.
_OPTIONS = {"max_steps": 8, "validation_split": 0.0}
_VARIANTS: dict[str, dict[str, object]] = {
    "fp32": {},
    "checkpointing": {"gradient_checkpointing": True},
    "bf16": {"mixed_precision": "bf16"},
    "fp16": {"mixed_precision": "fp16"},
}


@dataclass
class Finished:
    """One finished run and what it left behind."""

    job: Job
    losses: list[float]
    config: dict[str, Any]
    throughput: dict[str, Any]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path,
         tiny_model_path: Path) -> Iterator[dict[str, Finished]]:
    home = tmp_path_factory.mktemp("precision") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUNEPORT_HOME", str(home))
        mp.setenv("HF_HUB_OFFLINE", "1")
        provider = LocalProvider()
        started = {
            name: start(provider, tiny_data, tiny_model_path, key=name, epochs=1,
                        provider_options={**_OPTIONS, **extra})
            for name, extra in _VARIANTS.items()
        }
        try:
            finished: dict[str, Finished] = {}
            records = {}
            for name, job in started.items():
                job = wait(provider, job.id)
                assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
                losses = [p.train_loss for p in provider.metrics(job.id)
                          if p.train_loss is not None]
                config = json.loads((home / "runs" / job.id / "config.json").read_text())
                finished[name] = Finished(job, losses, config, job.raw.get("throughput") or {})
            for line in (home / "throughput.jsonl").read_text().splitlines():
                record = json.loads(line)
                records[record["job_id"]] = record
            for run in finished.values():
                # The cost engine reads throughput.jsonl; it must say what status.json says.
                assert records[run.job.id]["dtype"] == run.throughput["dtype"]
            yield finished
        finally:
            for job in started.values():
                if not provider.get_job(job.id).is_terminal:
                    provider.cancel_job(job.id)


def _relative_gaps(losses: list[float], reference: list[float]) -> list[float]:
    return [abs(a - b) / b for a, b in zip(losses, reference, strict=True)]


def test_checkpointing_gives_the_fp32_losses_and_is_recorded(runs: dict[str, Finished]) -> None:
    plain, checkpointed = runs["fp32"], runs["checkpointing"]
    assert len(plain.losses) == 8
    assert len(checkpointed.losses) == 8
    assert max(abs(a - b) for a, b in zip(checkpointed.losses, plain.losses, strict=True)) < 1e-5
    assert plain.losses[-1] < 0.7 * plain.losses[0]
    # config.json keeps the option as asked; the status records what was applied.
    assert checkpointed.config["gradient_checkpointing"] is True
    assert checkpointed.job.raw["gradient_checkpointing"] is True
    assert checkpointed.throughput["dtype"] == "fp32"


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_reduced_precision_trains_close_to_fp32(runs: dict[str, Finished], dtype: str) -> None:
    # fp16 autocast works on CPU too (torch supports it there), so it trains, not errors.
    run, plain = runs[dtype], runs["fp32"]
    assert run.config["mixed_precision"] == dtype
    assert run.throughput["dtype"] == dtype
    assert len(run.losses) == len(plain.losses) == 8
    gaps = _relative_gaps(run.losses, plain.losses)
    assert max(gaps) > 1e-5, "same losses as fp32: the dtype was not applied"
    assert max(gaps) < 0.05
    assert sum(run.losses[-3:]) < 0.7 * sum(run.losses[:3])


def test_cpu_defaults_are_fp32_without_checkpointing(runs: dict[str, Finished]) -> None:
    plain = runs["fp32"]
    assert plain.config["gradient_checkpointing"] is None  # "on for GPU", resolved at run time
    assert plain.job.raw["gradient_checkpointing"] is False
    assert plain.config["mixed_precision"] == "auto"
    assert plain.job.raw["precision"] == "no"
    assert plain.throughput["dtype"] == "fp32"
    assert plain.throughput["device"] == "cpu"


# The trainer calls transformers' gradient-checkpointing API, deprecated in 5.x for
# activation_checkpointing_*; the trainer process silences it, this in-process test must too.
@pytest.mark.filterwarnings(
    "ignore:`(is_)?gradient_checkpointing(_enable)?` is deprecated:FutureWarning")
@pytest.mark.parametrize(("options", "checkpointing"), [
    ({}, False),
    ({"gradient_checkpointing": True}, True),
])
def test_trainer_set_up_applies_the_resolved_options(
        tmp_path: Path, tiny_data: Path, tiny_model_path: Path,
        options: dict[str, object], checkpointing: bool) -> None:
    """The run records no resolved checkpointing flag, so look at the model it builds."""
    from tuneport.local import trainer

    rd = RunDir(tmp_path / "run")
    spec = FineTuneSpec(model=str(tiny_model_path), provider_options={"threads": 1, **options})
    config = config_from_spec(spec, job_id="local-inproc", train_file=str(tiny_data),
                              validation_file=None, idempotency_key=None)
    write_json_atomic(rd.config_path, config.model_dump(mode="json"))
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        run = trainer._Run(rd, resume=False)  # installs its stop handlers; restored below
        run.setup()
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert run.device.type == "cpu"
    assert run.precision == "no"
    assert run.autocast_dtype is None
    assert run.model.get_base_model().is_activation_checkpointing is checkpointing
