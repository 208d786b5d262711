"""A rented GPU's estimate: memory check, FLOPs -> hours -> dollars, with notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tuneport._exceptions import DoesNotFitError, UnsupportedFeatureError
from tuneport.catalog import (
    Catalog,
    ComputeDefaults,
    GpuEntry,
    GpuPrice,
    MfuRange,
    ModelEntry,
    method_key,
)
from tuneport.cost._estimate_parts import (
    Epochs,
    dec,
    instance_note,
    resolve_epochs,
    split_tokens,
    stale_note,
    stale_prices,
    tokenizer_assumption,
    truncated_totals,
)
from tuneport.cost._hosted import split_validation
from tuneport.cost._selfhosted import (
    GPU_COUNTS,
    MemoryFit,
    memory_fit,
    smallest_fitting_count,
    training_flops,
    training_hours,
)
from tuneport.cost._throughput import MeasuredRun, measured_mfu
from tuneport.cost._types import (
    CostEstimate,
    CostLine,
    HoursRange,
    ServingCost,
    TokenCounts,
    UsdRange,
)

__all__ = ["self_hosted_estimate"]


def _gpus_to_rent(n: int, offer: GpuPrice) -> int:
    """GPUs billed: at least the offer's instance size, in whole instances."""
    per = offer.min_gpus
    return max(per, -(-n // per) * per)


def _does_not_fit_message(entry: ModelEntry, key: str, gpu: GpuEntry, fit: MemoryFit) -> str:
    return (
        f"{entry.canonical} ({entry.params_b:g}B parameters) with {key} needs about "
        f"{fit.required_gb_per_gpu:.1f} GB per GPU on {fit.n_gpus}x {gpu.name}, which has "
        f"{fit.available_gb_per_gpu:.1f} GB usable ({gpu.memory_gb:g} GB). Try more GPUs "
        f"(e.g. --gpus {gpu.name}:8), a larger GPU, or method qlora."
    )


@dataclass(frozen=True)
class _Work:
    """What the training computes and how long it takes, low / expected / high."""

    k: float
    active: float
    mfu: MfuRange
    measured: tuple[MfuRange, list[MeasuredRun]] | None
    reference: float
    processed: list[int]
    flops: list[float]
    hours: tuple[float, float, float]
    compute_hours: float


def self_hosted_estimate(
    counts: TokenCounts,
    entry: ModelEntry,
    catalog: Catalog,
    gpu: GpuEntry,
    offer: GpuPrice,
    *,
    method: str = "lora",
    epochs: Epochs = None,
    n_gpus: int | None = None,
    validation_fraction: float = 0.0,
    runs: Sequence[MeasuredRun] | None = None,
    today: date | None = None,
) -> CostEstimate:
    """Cost of fine-tuning ``entry`` on rented ``gpu`` at ``offer``'s price.

    Args:
        n_gpus: GPUs to use; default the fewest of 1, 2, 4, 8 where the model fits.
        runs: measured local runs; a similar one replaces the default MFU.

    Raises:
        UnsupportedFeatureError: the model's size is unknown, or the method is not local.
        DoesNotFitError: the model does not fit in that many GPUs of this type.
    """
    today = today or date.today()
    key = method_key(method)
    local = catalog.provider("local")
    params_b = _check_supported(entry, key, local.unsupported)
    compute = catalog.compute
    fit = _memory_fit(entry, params_b, key, gpu, compute, n_gpus)
    n_rent = _gpus_to_rent(fit.n_gpus, offer)

    n_train, n_val = split_validation(counts.examples, validation_fraction)
    n_epochs, epoch_note = resolve_epochs(epochs, local.default_epochs, n_train)
    *token_totals, cut = truncated_totals(counts, entry.max_tokens_per_example)
    split = split_tokens(token_totals, n_train, n_val, counts.examples)
    work = _work(entry, params_b, key, compute, split, n_epochs, runs, gpu.peak_bf16_tflops,
                 n_rent)
    rate = offer.usd_per_hour * n_rent
    usd = [dec(h) * rate for h in work.hours]

    label = f"{gpu.name} at {offer.cloud}"
    prices_as_of = {label: offer.as_of}
    stale = stale_prices(prices_as_of, today)
    notes = _notes(entry, key, offer, gpu, fit.n_gpus, n_rent, cut, work, compute)
    notes.extend(stale_note(label, prices_as_of[label], age) for label, age in stale.items())
    return CostEstimate(
        provider="local",
        kind="self-hosted",
        model=entry.canonical,
        provider_model=entry.hf_id or entry.id,
        method=key,
        gpu=gpu.name,
        gpus=n_rent,
        cloud=offer.cloud,
        training_usd=UsdRange(low=usd[0], expected=usd[1], high=usd[2]),
        hours=HoursRange(low=work.hours[0], expected=work.hours[1], high=work.hours[2]),
        serving=ServingCost(
            kind="per_hour",
            usd_per_hour=rate,
            gpu=gpu.name,
            gpus=n_rent,
            billing=f"per hour while the {offer.cloud} machine is up",
            as_of=offer.as_of,
            source=offer.source,
        ),
        epochs=n_epochs,
        billed_tokens=(work.processed[0], work.processed[1], work.processed[2]),
        examples=counts.examples,
        tokenizer=counts.tokenizer,
        lines=_lines(n_train, n_epochs, work, gpu, offer, n_rent, usd[1], compute),
        assumptions=_assumptions(counts, epoch_note, entry, key, work, gpu, offer, fit,
                                 compute),
        notes=tuple(notes),
        as_of=offer.as_of,
        prices_as_of=prices_as_of,
        stale_prices=stale,
        gpus_needed=fit.n_gpus,
    )


def _check_supported(entry: ModelEntry, key: str, unsupported: dict[str, str]) -> float:
    """The model's parameter count (billions), or why it cannot be estimated self-hosted."""
    if key in unsupported:
        raise UnsupportedFeatureError(f"Self-hosted {key} is not supported: {unsupported[key]}")
    if entry.params_b is None:
        raise UnsupportedFeatureError(
            f"The parameter count of {entry.canonical!r} is unknown, so its self-hosted cost "
            "cannot be estimated. Add it (params_b) under [[models]] in "
            "TUNEPORT_CATALOG_DIR/local.toml."
        )
    return entry.params_b


def _memory_fit(entry: ModelEntry, params_b: float, key: str, gpu: GpuEntry,
                compute: ComputeDefaults, n_gpus: int | None) -> MemoryFit:
    """How the model fits: on ``n_gpus``, or on the fewest of 1, 2, 4, 8 that hold it."""
    if n_gpus is None:
        fit = smallest_fitting_count(params_b, key, gpu.memory_gb, compute.memory)
        if fit is None:
            worst = memory_fit(params_b, key, gpu.memory_gb, GPU_COUNTS[-1], compute.memory)
            raise DoesNotFitError(_does_not_fit_message(entry, key, gpu, worst))
        return fit
    fit = memory_fit(params_b, key, gpu.memory_gb, n_gpus, compute.memory)
    if not fit.fits:
        raise DoesNotFitError(_does_not_fit_message(entry, key, gpu, fit))
    return fit


def _work(entry: ModelEntry, params_b: float, key: str, compute: ComputeDefaults,
          split: Sequence[tuple[int, int]], n_epochs: int,
          runs: Sequence[MeasuredRun] | None, peak: float, n_rent: int) -> _Work:
    """FLOPs -> hours for each bound of the token counts."""
    k = compute.flops_per_token[key].k  # type: ignore[index]
    active = entry.active_params_b or params_b
    mfu: MfuRange = compute.mfu[key]  # type: ignore[index]
    measured = measured_mfu(list(runs), active, key) if runs else None
    if measured is not None:
        mfu = measured[0]
    overhead = compute.overhead_minutes
    processed = [train * n_epochs for train, _ in split]
    # Evaluation is forward-only (2N per token), once per epoch.
    # Full-parameter DPO computes the reference log-probs once, before training: one more
    # forward pass (2N per token) over the training pairs, whatever the number of epochs.
    reference = 2.0 if key == "dpo-full" else 0.0
    flops = [
        training_flops(k, active, train * n_epochs) + training_flops(2.0, active, val * n_epochs)
        + training_flops(reference, active, train)
        for train, val in split
    ]
    # Fewest hours: fewest tokens at the highest MFU and shortest overhead; and vice versa.
    hours = (
        training_hours(flops[0], peak, mfu.high, n_rent) + overhead.low / 60,
        training_hours(flops[1], peak, mfu.expected, n_rent) + overhead.expected / 60,
        training_hours(flops[2], peak, mfu.low, n_rent) + overhead.high / 60,
    )
    return _Work(k=k, active=active, mfu=mfu, measured=measured, reference=reference,
                 processed=processed, flops=flops, hours=hours,
                 compute_hours=training_hours(flops[1], peak, mfu.expected, n_rent))


def _lines(n_train: int, n_epochs: int, work: _Work, gpu: GpuEntry, offer: GpuPrice,
           n_rent: int, expected_usd: Decimal, compute: ComputeDefaults) -> tuple[CostLine, ...]:
    peak = gpu.peak_bf16_tflops
    return (
        CostLine(label="training examples", quantity=Decimal(n_train), unit="examples"),
        CostLine(label="epochs", quantity=Decimal(n_epochs), unit="epochs"),
        CostLine(label="tokens processed", quantity=Decimal(work.processed[1]), unit="tokens"),
        CostLine(
            label=f"FLOPs = {work.k:g} x {work.active:g}B x tokens"
            + (" + 2 x N x training tokens (reference pass)" if work.reference else ""),
            quantity=dec(work.flops[1]), unit="FLOP",
        ),
        CostLine(
            label=f"compute hours at MFU {work.mfu.expected:.2f} of {peak:g} TFLOPS x "
            f"{n_rent} GPU(s)",
            quantity=dec(round(work.compute_hours, 6)),
            unit="hours",
        ),
        CostLine(
            label="fixed overhead (start-up, download, checkpoints)",
            quantity=dec(compute.overhead_minutes.expected / 60),
            unit="hours",
        ),
        CostLine(
            label=f"GPU-hours on {n_rent}x {gpu.name}",
            quantity=dec(round(work.hours[1] * n_rent, 6)),
            unit="GPU-hours",
            unit_price_usd=offer.usd_per_hour,
            amount_usd=expected_usd,
            as_of=offer.as_of,
            source=offer.source,
        ),
    )


def _assumptions(counts: TokenCounts, epoch_note: str, entry: ModelEntry, key: str,
                 work: _Work, gpu: GpuEntry, offer: GpuPrice, fit: MemoryFit,
                 compute: ComputeDefaults) -> tuple[str, ...]:
    mfu, overhead = work.mfu, compute.overhead_minutes
    return (
        tokenizer_assumption(counts),
        epoch_note,
        f"k = {work.k:g} FLOPs per parameter per token for {key} "
        f"({compute.flops_per_token[key].source})",  # type: ignore[index]
        f"N = {work.active:g}B parameters"
        + (f" active of {entry.params_b:g}B (MoE)" if entry.is_moe else ""),
        f"peak {gpu.peak_bf16_tflops:g} dense BF16 TFLOPS per {gpu.name} ({gpu.peak_source})",
        f"MFU {mfu.low:.2f} / {mfu.expected:.2f} / {mfu.high:.2f} ({mfu.source})",
        f"fixed overhead {overhead.low:g} / {overhead.expected:g} / {overhead.high:g} min "
        f"({overhead.source})",
        f"memory: ~{fit.required_gb_per_gpu:.1f} GB per GPU needed on {fit.n_gpus} GPU(s), "
        f"{fit.available_gb_per_gpu:.1f} GB usable ({compute.memory.source})",
        f"${offer.usd_per_hour} per GPU-hour at {offer.cloud}"
        + (f" ({offer.instance})" if offer.instance else "")
        + f", as of {offer.as_of.isoformat()}",
    )


def _notes(entry: ModelEntry, key: str, offer: GpuPrice, gpu: GpuEntry, n_gpus: int,
           n_rent: int, cut: int, work: _Work, compute: ComputeDefaults) -> list[str]:
    notes: list[str] = []
    if n_rent != n_gpus:
        notes.append(instance_note(offer.cloud, gpu.name, n_rent, n_gpus))
    if cut:
        notes.append(
            f"{cut} example(s) exceed {entry.max_tokens_per_example} tokens and are truncated."
        )
    if work.measured is not None:
        default = compute.mfu[key].expected  # type: ignore[index]
        notes.append(
            f"MFU {work.mfu.expected:.2f} measured from your {len(work.measured[1])} local "
            f"run(s) replaces the default {default:.2f}."
        )
    return notes
