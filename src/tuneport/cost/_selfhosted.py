"""Self-hosted cost: FLOPs -> GPU-hours -> dollars, and whether the model fits at all.

::

    FLOPs   = k x N_active x tokens_processed        (k = 6 full, 4 LoRA/QLoRA)
    seconds = FLOPs / (MFU x peak_dense_bf16 x n_gpus)
    hours   = seconds / 3600 + fixed overhead
    cost    = hours x n_gpus x $/GPU-hour

Memory per GPU (all parameters, MoE included, sharded FSDP/ZeRO-3 style across GPUs)::

    GB = (state_bytes_per_param + activation_fraction x 2) x N_total_B / n_gpus + fixed_gb
    fits when GB <= usable_fraction x GPU memory
"""

from __future__ import annotations

from dataclasses import dataclass

from tuneport.catalog import MemoryModel

__all__ = [
    "GPU_COUNTS",
    "MemoryFit",
    "memory_fit",
    "smallest_fitting_count",
    "training_flops",
    "training_hours",
]

#: GPU counts tried when the caller does not say how many (one machine at most).
GPU_COUNTS = (1, 2, 4, 8)


def training_flops(k: float, active_params_b: float, tokens: float) -> float:
    """Model FLOPs of training: ``k x N x tokens`` (N in billions of parameters)."""
    return k * active_params_b * 1e9 * tokens


def training_hours(flops: float, peak_tflops: float, mfu: float, n_gpus: int) -> float:
    """Compute hours (without fixed overhead) at a given utilisation of the dense peak."""
    if mfu <= 0 or peak_tflops <= 0 or n_gpus < 1:
        raise ValueError("mfu, peak_tflops and n_gpus must be positive")
    return flops / (mfu * peak_tflops * 1e12 * n_gpus) / 3600.0


@dataclass(frozen=True, slots=True)
class MemoryFit:
    """Result of the memory check for one method on ``n_gpus`` GPUs of one type."""

    method: str
    n_gpus: int
    required_gb_per_gpu: float
    available_gb_per_gpu: float

    @property
    def fits(self) -> bool:
        """Whether the estimate fits within the usable memory."""
        return self.required_gb_per_gpu <= self.available_gb_per_gpu


def memory_fit(
    params_b: float, method: str, gpu_memory_gb: float, n_gpus: int, model: MemoryModel
) -> MemoryFit:
    """Estimate per-GPU memory of training ``params_b`` billion parameters with ``method``.

    Raises:
        KeyError: the memory model has no constant for the method.
    """
    state = model.state_bytes_per_param[method]  # type: ignore[index]
    per_param = state + model.activation_fraction * 2.0
    required = per_param * params_b / n_gpus + model.fixed_gb
    return MemoryFit(method, n_gpus, required, model.usable_fraction * gpu_memory_gb)


def smallest_fitting_count(
    params_b: float,
    method: str,
    gpu_memory_gb: float,
    model: MemoryModel,
    counts: tuple[int, ...] = GPU_COUNTS,
) -> MemoryFit | None:
    """The first GPU count in ``counts`` where the model fits, or None."""
    for n in counts:
        fit = memory_fit(params_b, method, gpu_memory_gb, n, model)
        if fit.fits:
            return fit
    return None
