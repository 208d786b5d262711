"""Measured throughput of the user's own local runs, turned into MFU.

The local backend appends one JSON object per finished run to ``TUNEPORT_HOME/throughput.jsonl``:
``{"model", "params", "method", "device", "gpu_name", "tokens_per_second", "trained_tokens",
"seconds"}``. A run on a GPU the catalog knows gives an implied MFU
(``k x params x tokens/s / peak``); runs of a similar model size (within 2x) and the same
method replace the catalog's default MFU range. CPU runs carry no MFU and are ignored.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from tuneport.catalog import Catalog, MfuRange, method_key

__all__ = ["MeasuredRun", "match_gpu", "measured_mfu", "read_runs", "throughput_file"]

# Most specific first: "NVIDIA H100 PCIe" must not match H100-SXM.
_GPU_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"h200", "H200"),
    (r"h100.*pcie", "H100-PCIe"),
    (r"h100", "H100-SXM"),
    (r"a100.*40\s*gb", "A100-40GB"),
    (r"a100", "A100-80GB"),
    (r"4090", "RTX-4090"),
    (r"a10g", "A10G"),
    (r"\bl4\b", "L4"),
)


def throughput_file(home: str | Path | None = None) -> Path:
    """``HOME/throughput.jsonl``: ``home`` if given (a ``Client(home=...)``), else
    ``TUNEPORT_HOME``, which defaults to the user data dir."""
    home = home or os.environ.get("TUNEPORT_HOME")
    if home:
        return Path(home).expanduser() / "throughput.jsonl"
    import platformdirs

    return Path(platformdirs.user_data_dir("tuneport", appauthor=False)) / "throughput.jsonl"


def match_gpu(gpu_name: str | None, catalog: Catalog) -> str | None:
    """The catalog GPU a device name (``torch.cuda.get_device_name``) refers to, if any."""
    if not gpu_name:
        return None
    lowered = gpu_name.lower()
    for pattern, name in _GPU_PATTERNS:
        if re.search(pattern, lowered):
            return name
    for gpu in catalog.gpus:
        if any(alias.lower() in lowered for alias in (gpu.name, *gpu.aliases)):
            return gpu.name
    return None


@dataclass(frozen=True, slots=True)
class MeasuredRun:
    """One local run with an implied MFU."""

    model: str
    params_b: float
    method: str
    gpu: str
    tokens_per_second: float
    mfu: float


def _params_b(value: object) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    # The backend records a raw parameter count; small numbers are read as billions.
    return float(value) / 1e9 if value >= 1e5 else float(value)


def read_runs(catalog: Catalog, path: Path | None = None) -> list[MeasuredRun]:
    """Runs from the throughput file that yield an MFU; malformed lines are skipped."""
    path = path or throughput_file()
    if not path.is_file():
        return []
    runs: list[MeasuredRun] = []
    k_by_method = catalog.compute.flops_per_token
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(rec, dict):
            continue
        gpu = match_gpu(rec.get("gpu_name"), catalog)
        params_b = _params_b(rec.get("params"))
        tps = rec.get("tokens_per_second")
        if gpu is None or params_b is None or not isinstance(tps, int | float) or tps <= 0:
            continue
        try:
            method = method_key(str(rec.get("method") or "lora"))
        except Exception:  # an unknown method name from an older backend: skip the line
            continue
        factor = k_by_method.get(method)  # type: ignore[call-overload]
        if factor is None:
            continue
        peak = catalog.gpu(gpu).peak_bf16_tflops * 1e12
        mfu = factor.k * params_b * 1e9 * float(tps) / peak
        if 0 < mfu <= 1:
            runs.append(MeasuredRun(str(rec.get("model")), params_b, method, gpu, float(tps), mfu))
    return runs


def measured_mfu(
    runs: list[MeasuredRun], params_b: float, method: str
) -> tuple[MfuRange, list[MeasuredRun]] | None:
    """An MFU range from runs of the same method and a model size within 2x, if any.

    Expected is the median implied MFU; low and high widen the observed spread by 15%.
    """
    similar = [
        r for r in runs if r.method == method and 0.5 <= r.params_b / params_b <= 2.0
    ]
    if not similar:
        return None
    values = [r.mfu for r in similar]
    expected = statistics.median(values)
    gpus = sorted({r.gpu for r in similar})
    return (
        MfuRange(
            low=min(0.85 * min(values), expected),
            expected=expected,
            high=min(1.0, max(1.15 * max(values), expected)),
            source=f"measured: {len(similar)} local run(s) on {', '.join(gpus)} "
            f"(TUNEPORT_HOME/throughput.jsonl)",
        ),
        similar,
    )
