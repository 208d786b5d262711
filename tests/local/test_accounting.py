"""Actual cost of local runs (catalog GPU prices, CPU core-hours) and the throughput record."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from local_helpers import log_of, start, wait

from tuneport._models import JobStatus
from tuneport.local.accounting import gpu_hourly_usd, run_cost_usd
from tuneport.providers.local import LocalProvider
from tuneport.testing import tiny_chat_examples


def test_gpu_names_from_torch_find_catalog_prices() -> None:
    h100 = gpu_hourly_usd("NVIDIA H100 80GB HBM3")
    assert h100 is not None
    assert h100 > 0
    assert gpu_hourly_usd("NVIDIA L4") is not None
    assert gpu_hourly_usd("NVIDIA L40S") != gpu_hourly_usd("NVIDIA L4")  # no prefix matches
    assert gpu_hourly_usd("Some Unknown Accelerator") is None


def test_run_cost_is_gpu_hours_or_cpu_core_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_GPU_HOUR_USD", "2.00")
    cost, basis = run_cost_usd(device="cuda", gpu_name="NVIDIA H100 80GB HBM3", n_devices=2,
                               wall_seconds=1800, cpu_seconds=5)
    assert cost == Decimal("2.000000")
    assert "2 x NVIDIA H100" in basis
    monkeypatch.setenv("TUNEPORT_CPU_HOUR_USD", "0.10")
    cost, basis = run_cost_usd(device="cpu", gpu_name=None, n_devices=1, wall_seconds=99,
                               cpu_seconds=7200)
    assert cost == Decimal("0.200000")
    assert "CPU core-seconds" in basis


def test_a_finished_run_feeds_the_cost_engine_through_throughput_jsonl(
        provider: LocalProvider, home: Path, tiny_data: Path, tiny_model_path: Path) -> None:
    """End to end: the record a real run writes is what ``tuneport compare`` reads.

    This machine has no GPU, and the cost engine (by design) draws no MFU from CPU runs:
    so the real CPU record must leave compare's default MFU alone, and the same record
    with only its hardware fields (device, GPU, model size, speed) set as an 8B LoRA run
    on an H100 would write them must replace it.
    """
    from typer.testing import CliRunner

    from tuneport.cli import app

    job = wait(provider, start(provider, tiny_data, tiny_model_path, key="cost",
                               provider_options={"max_steps": 2}).id)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    record = json.loads((home / "throughput.jsonl").read_text().splitlines()[-1])
    assert record["device"] == "cpu"
    assert record["tokens_per_second"] == record["total_tokens_per_second"]  # one device
    data = home / "compare.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in tiny_chat_examples(60)))

    def compare_notes() -> str:
        result = CliRunner().invoke(app, ["compare", str(data), "--model", "llama-3.1-8b-instruct",
                                          "--providers", "local", "--gpus", "H100", "--json"])
        assert result.exit_code == 0, result.output
        return json.dumps(json.loads(result.stdout))

    assert "measured from your" not in compare_notes()
    gpu_run = {**record, "device": "cuda", "gpu_name": "NVIDIA H100 80GB HBM3",
               "params": 8_030_000_000, "tokens_per_second": 12_000.0}
    (home / "throughput.jsonl").write_text(json.dumps(gpu_run) + "\n")
    notes = compare_notes()
    assert "MFU 0.39 measured from your 1 local run(s)" in notes  # 4 x 8.03e9 x 12k / 989e12
