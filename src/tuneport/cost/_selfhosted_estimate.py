"""A rented GPU's estimate: memory check, FLOPs -> hours -> dollars, with notes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from tuneport._exceptions import DoesNotFitError, UnsupportedFeatureError
from tuneport.catalog import Catalog, GpuEntry, GpuPrice, MfuRange, ModelEntry, method_key
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
    if key in local.unsupported:
        raise UnsupportedFeatureError(
            f"Self-hosted {key} is not supported: {local.unsupported[key]}"
        )
    if entry.params_b is None:
        raise UnsupportedFeatureError(
            f"The parameter count of {entry.canonical!r} is unknown, so its self-hosted cost "
            "cannot be estimated. Add it (params_b) under [[models]] in "
            "TUNEPORT_CATALOG_DIR/local.toml."
        )
    compute = catalog.compute
    if n_gpus is None:
        fit = smallest_fitting_count(entry.params_b, key, gpu.memory_gb, compute.memory)
        if fit is None:
            worst = memory_fit(entry.params_b, key, gpu.memory_gb, GPU_COUNTS[-1], compute.memory)
            raise DoesNotFitError(_does_not_fit_message(entry, key, gpu, worst))
        n_gpus = fit.n_gpus
    else:
        fit = memory_fit(entry.params_b, key, gpu.memory_gb, n_gpus, compute.memory)
        if not fit.fits:
            raise DoesNotFitError(_does_not_fit_message(entry, key, gpu, fit))
    n_rent = _gpus_to_rent(n_gpus, offer)

    n_train, n_val = split_validation(counts.examples, validation_fraction)
    n_epochs, epoch_note = resolve_epochs(epochs, local.default_epochs, n_train)
    *token_totals, cut = truncated_totals(counts, entry.max_tokens_per_example)
    n = counts.examples

    k = compute.flops_per_token[key].k  # type: ignore[index]
    active = entry.active_params_b or entry.params_b
    mfu: MfuRange = compute.mfu[key]  # type: ignore[index]
    measured = measured_mfu(list(runs), active, key) if runs else None
    if measured is not None:
        mfu = measured[0]
    overhead = compute.overhead_minutes

    split = split_tokens(token_totals, n_train, n_val, n)
    processed = [train * n_epochs for train, _ in split]
    # Evaluation is forward-only (2N per token), once per epoch.
    # Full-parameter DPO computes the reference log-probs once, before training: one more
    # forward pass (2N per token) over the training pairs, whatever the number of epochs.
    reference = 2.0 if key == "dpo-full" else 0.0
    flops_by = [
        training_flops(k, active, train * n_epochs) + training_flops(2.0, active, val * n_epochs)
        + training_flops(reference, active, train)
        for train, val in split
    ]
    peak = gpu.peak_bf16_tflops
    # Fewest hours: fewest tokens at the highest MFU and shortest overhead; and vice versa.
    hours_low = training_hours(flops_by[0], peak, mfu.high, n_rent) + overhead.low / 60
    hours_exp = training_hours(flops_by[1], peak, mfu.expected, n_rent) + overhead.expected / 60
    hours_high = training_hours(flops_by[2], peak, mfu.low, n_rent) + overhead.high / 60
    rate = offer.usd_per_hour * n_rent
    usd = [dec(h) * rate for h in (hours_low, hours_exp, hours_high)]

    label = f"{gpu.name} at {offer.cloud}"
    prices_as_of = {label: offer.as_of}
    compute_hours = training_hours(flops_by[1], peak, mfu.expected, n_rent)
    lines = [
        CostLine(label="training examples", quantity=Decimal(n_train), unit="examples"),
        CostLine(label="epochs", quantity=Decimal(n_epochs), unit="epochs"),
        CostLine(label="tokens processed", quantity=Decimal(processed[1]), unit="tokens"),
        CostLine(
            label=f"FLOPs = {k:g} x {active:g}B x tokens"
            + (" + 2 x N x training tokens (reference pass)" if reference else ""),
            quantity=dec(flops_by[1]), unit="FLOP",
        ),
        CostLine(
            label=f"compute hours at MFU {mfu.expected:.2f} of {peak:g} TFLOPS x {n_rent} GPU(s)",
            quantity=dec(round(compute_hours, 6)),
            unit="hours",
        ),
        CostLine(
            label="fixed overhead (start-up, download, checkpoints)",
            quantity=dec(overhead.expected / 60),
            unit="hours",
        ),
        CostLine(
            label=f"GPU-hours on {n_rent}x {gpu.name}",
            quantity=dec(round(hours_exp * n_rent, 6)),
            unit="GPU-hours",
            unit_price_usd=offer.usd_per_hour,
            amount_usd=usd[1],
            as_of=offer.as_of,
            source=offer.source,
        ),
    ]
    assumptions = [
        tokenizer_assumption(counts),
        epoch_note,
        f"k = {k:g} FLOPs per parameter per token for {key} "
        f"({compute.flops_per_token[key].source})",  # type: ignore[index]
        f"N = {active:g}B parameters"
        + (f" active of {entry.params_b:g}B (MoE)" if entry.is_moe else ""),
        f"peak {peak:g} dense BF16 TFLOPS per {gpu.name} ({gpu.peak_source})",
        f"MFU {mfu.low:.2f} / {mfu.expected:.2f} / {mfu.high:.2f} ({mfu.source})",
        f"fixed overhead {overhead.low:g} / {overhead.expected:g} / {overhead.high:g} min "
        f"({overhead.source})",
        f"memory: ~{fit.required_gb_per_gpu:.1f} GB per GPU needed on {fit.n_gpus} GPU(s), "
        f"{fit.available_gb_per_gpu:.1f} GB usable ({compute.memory.source})",
        f"${offer.usd_per_hour} per GPU-hour at {offer.cloud}"
        + (f" ({offer.instance})" if offer.instance else "")
        + f", as of {offer.as_of.isoformat()}",
    ]
    notes: list[str] = []
    if n_rent != n_gpus:
        notes.append(instance_note(offer.cloud, gpu.name, n_rent, n_gpus))
    if cut:
        notes.append(
            f"{cut} example(s) exceed {entry.max_tokens_per_example} tokens and are truncated."
        )
    if measured is not None:
        default = compute.mfu[key].expected  # type: ignore[index]
        notes.append(
            f"MFU {mfu.expected:.2f} measured from your {len(measured[1])} local run(s) replaces "
            f"the default {default:.2f}."
        )
    stale = stale_prices(prices_as_of, today)
    notes.extend(stale_note(label, prices_as_of[label], age) for label, age in stale.items())
    serving = ServingCost(
        kind="per_hour",
        usd_per_hour=rate,
        gpu=gpu.name,
        gpus=n_rent,
        billing=f"per hour while the {offer.cloud} machine is up",
        as_of=offer.as_of,
        source=offer.source,
    )
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
        hours=HoursRange(low=hours_low, expected=hours_exp, high=hours_high),
        serving=serving,
        epochs=n_epochs,
        billed_tokens=(processed[0], processed[1], processed[2]),
        examples=n,
        tokenizer=counts.tokenizer,
        lines=tuple(lines),
        assumptions=tuple(assumptions),
        notes=tuple(notes),
        as_of=offer.as_of,
        prices_as_of=prices_as_of,
        stale_prices=stale,
        gpus_needed=n_gpus,
    )


