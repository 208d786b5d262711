"""What a finished local run cost, and the throughput record the cost engine reads.

``TUNEPORT_HOME/throughput.jsonl`` gets one JSON object per finished run::

    {"job_id", "model", "params", "method", "device" ("cpu"|"cuda"), "gpu_name",
     "n_devices", "distributed" (null|"ddp"|"fsdp"), "dtype", "tokens_per_second",
     "total_tokens_per_second", "trained_tokens_per_second", "processed_tokens",
     "trained_tokens", "seconds", "finished_at"}

``tokens_per_second`` counts every (non-padding) token the model processed per second of
training steps *per device* (the cost engine divides it by one GPU's peak FLOPS to get an
MFU); ``total_tokens_per_second`` is the sum over devices, ``trained_tokens_per_second``
counts loss-bearing tokens over all devices. ``seconds`` excludes loading, evaluation and
checkpointing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from tuneport.local.rundir import tuneport_home

__all__ = ["CPU_HOUR_USD_DEFAULT", "gpu_hourly_usd", "record_throughput", "run_cost_usd"]

# A cloud vCPU-hour (on-demand compute-optimized instances, late 2026): a nominal price
# so CPU runs report a comparable number. Override with TUNEPORT_CPU_HOUR_USD.
CPU_HOUR_USD_DEFAULT = Decimal("0.04")


def _gpus_toml_candidates() -> list[Path]:
    here = Path(__file__).resolve()
    return [
        here.parents[1] / "_catalog_data" / "gpus.toml",  # inside the installed wheel
        here.parents[3] / "providers" / "gpus.toml",  # source checkout
    ]


def gpu_hourly_usd(gpu_name: str) -> Decimal | None:
    """The cheapest catalog on-demand $/GPU-hour for a GPU name like ``NVIDIA H100 80GB HBM3``.

    The one place the local backend looks up GPU prices. Uses ``tuneport.catalog`` when
    it offers GPUs, else reads ``gpus.toml`` directly; ``None`` when the GPU is unknown.
    """
    override = os.environ.get("TUNEPORT_GPU_HOUR_USD")
    if override:
        return Decimal(override)
    tables: list[dict[str, Any]] = []
    for candidate in _gpus_toml_candidates():
        if candidate.is_file():
            with candidate.open("rb") as fh:
                tables.append(tomllib.load(fh))
            break
    wanted = _tokens(gpu_name)
    # A catalog name matches when its words appear together in the device name; the
    # longest match wins, and "NVIDIA L40S" is never priced as an "L4".
    best: tuple[int, Decimal] | None = None
    for table in tables:
        for key, entry in _iter_gpu_entries(table):
            price = _cheapest_price(entry)
            if price is None:
                continue
            for name in [key, *(entry.get("aliases") or []), str(entry.get("name", ""))]:
                words = _tokens(name)
                size = len("".join(words))
                if words and _contains(wanted, words) and (best is None or size > best[0]):
                    best = (size, price)
    return best[1] if best else None


def _tokens(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i: i + len(needle)] == needle
               for i in range(len(haystack) - len(needle) + 1))


def _iter_gpu_entries(table: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    gpus = table.get("gpus", table)
    if isinstance(gpus, list):
        return [(str(g.get("id", g.get("name", ""))), g) for g in gpus if isinstance(g, dict)]
    return [(k, v) for k, v in gpus.items() if isinstance(v, dict)]


def _cheapest_price(entry: dict[str, Any]) -> Decimal | None:
    found: list[Decimal] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, int | float | str) and "usd" in key and "hour" in key:
            with contextlib.suppress(ArithmeticError):
                found.append(Decimal(str(value)))

    walk(entry)
    return min(found) if found else None


def run_cost_usd(*, device: str, gpu_name: str | None, n_devices: int, wall_seconds: float,
                 cpu_seconds: float) -> tuple[Decimal | None, str]:
    """The run's cost and how it was computed (GPU-hours x price, or CPU core-hours x price)."""
    if device == "cuda" and gpu_name:
        price = gpu_hourly_usd(gpu_name)
        if price is None:
            return None, f"no catalog price for GPU {gpu_name!r}"
        hours = Decimal(str(wall_seconds)) / Decimal(3600) * n_devices
        return (hours * price).quantize(Decimal("0.000001")), (
            f"{n_devices} x {gpu_name} for {wall_seconds:.0f} s at ${price}/GPU-hour")
    price = Decimal(os.environ.get("TUNEPORT_CPU_HOUR_USD", str(CPU_HOUR_USD_DEFAULT)))
    hours = Decimal(str(cpu_seconds)) / Decimal(3600)
    return (hours * price).quantize(Decimal("0.000001")), (
        f"{cpu_seconds:.0f} CPU core-seconds at ${price}/core-hour")


def record_throughput(record: dict[str, Any]) -> Path:
    """Append one finished run's measured throughput to ``TUNEPORT_HOME/throughput.jsonl``."""
    path = tuneport_home() / "throughput.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    return path
