"""Actual-cost lookup of local runs (GPU price from the catalog data, CPU core-hours)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tuneport.providers.local.accounting import gpu_hourly_usd, run_cost_usd


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
