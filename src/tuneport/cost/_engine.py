"""Estimates for one option and comparisons across all of them.

The pure estimators (:func:`hosted_estimate`, :func:`self_hosted_estimate`) take
:class:`TokenCounts` and catalog entries, so tests can check them by hand. :func:`estimate` and
:func:`compare` add the one place where a dataset is counted (``tuneport.dataset.count_tokens``)
and the catalog is looked up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from tuneport._exceptions import (
    DoesNotFitError,
    TuneportError,
    UnknownModelError,
    UnsupportedFeatureError,
)
from tuneport.catalog import (
    STALE_AFTER_DAYS,
    Catalog,
    GpuEntry,
    GpuPrice,
    MethodPrice,
    MfuRange,
    ModelEntry,
    ProviderCatalog,
    load_catalog,
    method_key,
)
from tuneport.cost._hosted import (
    apply_minimum,
    auto_epochs,
    billed_tokens,
    split_validation,
    token_cost,
    truncate,
)
from tuneport.cost._selfhosted import (
    GPU_COUNTS,
    MemoryFit,
    memory_fit,
    smallest_fitting_count,
    training_flops,
    training_hours,
)
from tuneport.cost._throughput import MeasuredRun, measured_mfu, read_runs
from tuneport.cost._types import (
    Comparison,
    CostEstimate,
    CostLine,
    HoursRange,
    ServingCost,
    SkippedOption,
    TokenCounts,
    UsdRange,
)

__all__ = [
    "compare",
    "estimate",
    "hosted_estimate",
    "parse_gpu_spec",
    "resolve_epochs",
    "self_hosted_estimate",
]

Epochs = int | Literal["auto"] | None
DatasetLike = Any  # Dataset | str | Path | TokenCounts | Sequence[int]
_SOON_DAYS = 90


# ---------------------------------------------------------------------------------------------
# helpers shared by both kinds


def resolve_epochs(epochs: Epochs, default: int | Literal["auto"], n_train: int) -> tuple[int, str]:
    """Turn ``None`` / ``"auto"`` / an int into epochs plus the assumption behind them."""
    chosen = default if epochs is None else epochs
    if chosen == "auto":
        n = auto_epochs(n_train)
        return n, (
            f"epochs: 'auto' -> {n} by OpenAI's cookbook rule for {n_train} training examples "
            "(3; min(25, 100 // n) below 34 examples; max(1, 25000 // n) above 8,333); the "
            "server's actual choice is not documented"
        )
    if not isinstance(chosen, int) or isinstance(chosen, bool) or chosen < 1:
        raise UnsupportedFeatureError(
            f"epochs must be a positive integer or 'auto', not {chosen!r}"
        )
    origin = "the provider's default" if epochs is None else "as requested"
    return chosen, f"epochs: {chosen} ({origin})"


def _truncated_totals(counts: TokenCounts, max_tokens: int | None) -> tuple[int, int, int, int]:
    """(low, expected, high, examples cut) of the per-pass total after truncation."""
    expected, cut = truncate(counts.per_example, max_tokens)
    if counts.per_example_low is not None and counts.per_example_high is not None:
        low, _ = truncate(counts.per_example_low, max_tokens)
        high, _ = truncate(counts.per_example_high, max_tokens)
    elif counts.total_low is not None and counts.total_high is not None and counts.total > 0:
        # Only whole-dataset bounds: scale the truncated total by the same ratios.
        low = round(expected * counts.total_low / counts.total)
        high = round(expected * counts.total_high / counts.total)
    else:
        low = high = expected
    return min(low, expected), expected, max(high, expected), cut


def _share(total: int, part: int, whole: int) -> int:
    return 0 if whole == 0 else round(total * part / whole)


def _stale_notes(prices: dict[str, date], today: date) -> tuple[list[str], bool]:
    notes = []
    for label, as_of in prices.items():
        age = (today - as_of).days
        if age > STALE_AFTER_DAYS:
            notes.append(
                f"Price '{label}' is from {as_of.isoformat()} ({age} days old, over "
                f"{STALE_AFTER_DAYS}): check the current price and override it in "
                "TUNEPORT_CATALOG_DIR if it changed."
            )
    return notes, bool(notes)


def _d(value: float) -> Decimal:
    return Decimal(repr(value))


def _serving_from_entry(entry: ModelEntry) -> tuple[ServingCost | None, list[str]]:
    serving = entry.serving
    if serving is None:
        return None, []
    if serving.kind == "per_1m_tokens":
        return ServingCost(
            kind="per_1m_tokens",
            input_usd_per_1m=serving.input_usd_per_1m,
            cached_input_usd_per_1m=serving.cached_input_usd_per_1m,
            output_usd_per_1m=serving.output_usd_per_1m,
            as_of=serving.as_of,
            source=serving.source,
        ), []
    option = serving.cheapest_option()
    assert option is not None  # the schema requires options for per_gpu_hour
    note = (
        f"Serving needs a dedicated deployment: from ${option.usd_per_hour}/h ({option.gpu}), "
        f"billed {serving.billing_granularity or 'while it is up'}; "
        f"a day costs ${(option.usd_per_hour * 24).quantize(Decimal('0.01'))}."
    )
    return ServingCost(
        kind="per_hour",
        usd_per_hour=option.usd_per_hour,
        gpu=option.gpu,
        gpus=1,
        billing=serving.billing_granularity,
        as_of=serving.as_of,
        source=serving.source,
    ), [note]


def _availability_notes(entry: ModelEntry, provider: ProviderCatalog, today: date) -> list[str]:
    notes = []
    until = entry.training_available_until
    if until is not None:
        if today > until:
            notes.append(
                f"{provider.display_name} no longer accepts new fine-tuning jobs for "
                f"{entry.canonical} (ended {until.isoformat()})."
            )
        elif (until - today).days <= _SOON_DAYS:
            notes.append(
                f"{provider.display_name} accepts new fine-tuning jobs for {entry.canonical} "
                f"only until {until.isoformat()} ({(until - today).days} days)."
            )
    if entry.shutdown_date is not None:
        verb = "shut down on" if today >= entry.shutdown_date else "shuts down on"
        notes.append(
            f"The base model {entry.id} {verb} {entry.shutdown_date.isoformat()}; its "
            "fine-tunes follow."
        )
    return notes


def _method_price(entry: ModelEntry, provider: ProviderCatalog, method: str) -> MethodPrice:
    key = method_key(method)
    if key in entry.methods:
        return entry.methods[key]
    reason = entry.unsupported.get(key) or provider.unsupported.get(key)
    offered = ", ".join(sorted(entry.methods)) or "none"
    raise UnsupportedFeatureError(
        f"{provider.display_name} does not offer {key} for {entry.canonical}"
        + (f": {reason}" if reason else ".")
        + f" Offered: {offered}."
    )


# ---------------------------------------------------------------------------------------------
# hosted


def hosted_estimate(
    counts: TokenCounts,
    provider: ProviderCatalog,
    entry: ModelEntry,
    *,
    method: str = "lora",
    epochs: Epochs = None,
    validation_fraction: float = 0.0,
    n_evals: int | None = None,
    today: date | None = None,
) -> CostEstimate:
    """Cost of fine-tuning ``entry`` at a hosted ``provider`` on data with these token counts.

    Raises:
        UnsupportedFeatureError: the provider does not offer the method for this model.
    """
    today = today or date.today()
    key = method_key(method)
    price = _method_price(entry, provider, key)
    n_train, n_val = split_validation(counts.examples, validation_fraction)
    n_epochs, epoch_note = resolve_epochs(epochs, provider.default_epochs, n_train)

    max_tokens = entry.max_tokens_per_example
    low_all, exp_all, high_all, cut = _truncated_totals(counts, max_tokens)
    n = counts.examples
    range_low, range_high = provider.estimate_range

    totals: list[int] = []
    amounts: list[Decimal] = []
    parts = None
    for which, all_tokens in (("low", low_all), ("expected", exp_all), ("high", high_all)):
        train = _share(all_tokens, n_train, n)
        val = all_tokens - train if n_val else 0
        bill = billed_tokens(train, val, n_epochs, provider.validation_billing, n_evals)
        factor = {"low": range_low, "expected": 1.0, "high": range_high}[which]
        raw = token_cost(bill.total, price.usd_per_1m) * _d(factor)
        amounts.append(apply_minimum(raw, price, low_end=which == "low"))
        totals.append(bill.total)
        if which == "expected":
            parts = bill
    assert parts is not None

    label = f"{provider.name} {entry.id} {key}"
    prices_as_of = {label: price.as_of}
    lines = [
        CostLine(label="training examples", quantity=Decimal(n_train), unit="examples"),
        CostLine(
            label="tokens per epoch"
            + (f" (examples cut at {max_tokens} tokens)" if max_tokens else ""),
            quantity=Decimal(parts.train_tokens),
            unit="tokens",
        ),
        CostLine(label="epochs", quantity=Decimal(n_epochs), unit="epochs"),
        CostLine(
            label="billed training tokens",
            quantity=Decimal(parts.billed_training),
            unit="tokens",
            unit_price_usd=price.usd_per_1m,
            amount_usd=token_cost(parts.billed_training, price.usd_per_1m),
            as_of=price.as_of,
            source=price.source,
        ),
    ]
    if n_val:
        lines.append(
            CostLine(
                label=f"validation tokens billed ({provider.validation_billing})",
                quantity=Decimal(parts.billed_validation),
                unit="tokens",
                unit_price_usd=price.usd_per_1m,
                amount_usd=token_cost(parts.billed_validation, price.usd_per_1m),
                as_of=price.as_of,
                source=price.source,
            )
        )
    if price.min_charge_usd is not None:
        applied = amounts[1] == price.min_charge_usd and token_cost(
            parts.total, price.usd_per_1m
        ) < price.min_charge_usd
        lines.append(
            CostLine(
                label="minimum charge per job" + (" (applied)" if applied else ""),
                quantity=Decimal(1),
                unit="job",
                unit_price_usd=price.min_charge_usd,
                amount_usd=price.min_charge_usd if applied else None,
                as_of=price.as_of,
                source=price.source,
            )
        )

    assumptions = [
        f"tokens counted with {counts.tokenizer}"
        + ("" if counts.exact else " (approximate; the range covers the uncertainty)"),
        epoch_note,
        f"price {price.usd_per_1m} USD per 1M tokens for {key}"
        + (f" (size tier {price.tier})" if price.tier else "")
        + f", as of {price.as_of.isoformat()}",
    ]
    if (range_low, range_high) != (1.0, 1.0):
        assumptions.append(
            f"{provider.display_name}'s own estimator presents {range_low:g}x to "
            f"{range_high:g}x; the range uses the same spread"
        )
    if n_val:
        rule = {
            "not_billed": "validation tokens are not billed",
            "per_eval": f"validation billed per evaluation ({parts.n_evals} evaluation(s), "
            "one per epoch unless given)",
            "as_training": "validation tokens billed like training tokens",
        }[provider.validation_billing]
        assumptions.append(f"{n_val} of {n} examples held out for validation; {rule}")
    if price.min_charge_usd is not None and not price.min_charge_confirmed:
        assumptions.append(
            f"minimum charge ${price.min_charge_usd} per job from an old source; left out of "
            "the low end"
        )

    notes: list[str] = []
    if cut:
        notes.append(
            f"{cut} example(s) exceed {max_tokens} tokens and are truncated (billed at "
            f"{max_tokens})."
        )
    limit = provider.limits.max_examples_times_epochs
    if limit is not None and n_train * n_epochs > limit:
        notes.append(
            f"{n_train} examples x {n_epochs} epochs exceeds {provider.display_name}'s limit of "
            f"{limit:,}; the job would be refused."
        )
    notes.extend(_availability_notes(entry, provider, today))
    serving, serving_notes = _serving_from_entry(entry)
    notes.extend(serving_notes)
    if serving is not None:
        prices_as_of[f"{provider.name} serving"] = serving.as_of
    stale_notes, stale = _stale_notes(prices_as_of, today)
    notes.extend(stale_notes)

    return CostEstimate(
        provider=provider.name,
        kind="hosted",
        model=entry.canonical,
        provider_model=entry.id,
        method=key,
        training_usd=UsdRange(low=amounts[0], expected=amounts[1], high=amounts[2]),
        serving=serving,
        epochs=n_epochs,
        billed_tokens=(totals[0], totals[1], totals[2]),
        examples=n,
        tokenizer=counts.tokenizer,
        lines=tuple(lines),
        assumptions=tuple(assumptions),
        notes=tuple(notes),
        as_of=min(prices_as_of.values()),
        prices_as_of=prices_as_of,
        stale=stale,
    )


# ---------------------------------------------------------------------------------------------
# self-hosted


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
    low_all, exp_all, high_all, cut = _truncated_totals(counts, entry.max_tokens_per_example)
    n = counts.examples

    k = compute.flops_per_token[key].k  # type: ignore[index]
    active = entry.active_params_b or entry.params_b
    mfu: MfuRange = compute.mfu[key]  # type: ignore[index]
    measured = measured_mfu(list(runs), active, key) if runs else None
    if measured is not None:
        mfu = measured[0]
    overhead = compute.overhead_minutes

    processed: list[int] = []
    flops_by: list[float] = []
    for all_tokens in (low_all, exp_all, high_all):
        train = _share(all_tokens, n_train, n)
        val = all_tokens - train if n_val else 0
        processed.append(train * n_epochs)
        # Evaluation is forward-only (2N per token), once per epoch.
        flops_by.append(
            training_flops(k, active, train * n_epochs)
            + training_flops(2.0, active, val * n_epochs)
        )
    peak = gpu.peak_bf16_tflops
    # Fewest hours: fewest tokens at the highest MFU and shortest overhead; and vice versa.
    hours_low = training_hours(flops_by[0], peak, mfu.high, n_rent) + overhead.low / 60
    hours_exp = training_hours(flops_by[1], peak, mfu.expected, n_rent) + overhead.expected / 60
    hours_high = training_hours(flops_by[2], peak, mfu.low, n_rent) + overhead.high / 60
    rate = offer.usd_per_hour * n_rent
    usd = [_d(h) * rate for h in (hours_low, hours_exp, hours_high)]

    label = f"{gpu.name} at {offer.cloud}"
    prices_as_of = {label: offer.as_of}
    compute_hours = training_hours(flops_by[1], peak, mfu.expected, n_rent)
    lines = [
        CostLine(label="training examples", quantity=Decimal(n_train), unit="examples"),
        CostLine(label="epochs", quantity=Decimal(n_epochs), unit="epochs"),
        CostLine(label="tokens processed", quantity=Decimal(processed[1]), unit="tokens"),
        CostLine(
            label=f"FLOPs = {k:g} x {active:g}B x tokens", quantity=_d(flops_by[1]), unit="FLOP"
        ),
        CostLine(
            label=f"compute hours at MFU {mfu.expected:.2f} of {peak:g} TFLOPS x {n_rent} GPU(s)",
            quantity=_d(round(compute_hours, 6)),
            unit="hours",
        ),
        CostLine(
            label="fixed overhead (start-up, download, checkpoints)",
            quantity=_d(overhead.expected / 60),
            unit="hours",
        ),
        CostLine(
            label=f"GPU-hours on {n_rent}x {gpu.name}",
            quantity=_d(round(hours_exp * n_rent, 6)),
            unit="GPU-hours",
            unit_price_usd=offer.usd_per_hour,
            amount_usd=usd[1],
            as_of=offer.as_of,
            source=offer.source,
        ),
    ]
    assumptions = [
        f"tokens counted with {counts.tokenizer}"
        + ("" if counts.exact else " (approximate; the range covers the uncertainty)"),
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
        notes.append(
            f"{offer.cloud} rents {gpu.name} in instances of {offer.min_gpus}; {n_rent} GPUs "
            f"billed (the model needs {n_gpus})."
        )
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
    stale_notes, stale = _stale_notes(prices_as_of, today)
    notes.extend(stale_notes)
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
        stale=stale,
    )


# ---------------------------------------------------------------------------------------------
# dataset wiring: the one place a dataset is counted


def _counts(dataset: DatasetLike, target: str, model: str) -> TokenCounts:
    """Token counts of ``dataset`` for one target and model.

    Accepts :class:`TokenCounts`, a list of per-example token counts, a
    ``tuneport.dataset.Dataset`` or a path to a JSONL file.
    """
    if isinstance(dataset, TokenCounts):
        return dataset
    if isinstance(dataset, list | tuple) and all(
        isinstance(x, int) and not isinstance(x, bool) for x in dataset
    ):
        return TokenCounts(per_example=list(dataset))
    from tuneport.dataset import Dataset, count_tokens

    if isinstance(dataset, str | Path):
        dataset = Dataset.from_jsonl(dataset)
    return TokenCounts.from_stats(count_tokens(dataset, target, model))


class _CountCache:
    """Counts once per (target, tokenizer-relevant model) within one compare call."""

    def __init__(self, dataset: DatasetLike) -> None:
        self._dataset = dataset
        self._cache: dict[tuple[str, str], TokenCounts] = {}

    def get(self, target: str, model: str, tokenizer: str) -> TokenCounts:
        # Providers render examples differently (templates, masking), so counts are per target.
        key = (target, tokenizer if tokenizer != "approx" else f"approx:{model}")
        if key not in self._cache:
            self._cache[key] = _counts(self._dataset, target, model)
        return self._cache[key]


# ---------------------------------------------------------------------------------------------
# public entry points


def parse_gpu_spec(spec: str, catalog: Catalog) -> tuple[GpuEntry, int | None, str | None]:
    """Parse ``H100``, ``H100:2`` or ``H100:2@runpod-secure`` into (GPU, count, cloud)."""
    text = spec.strip()
    cloud = None
    if "@" in text:
        text, cloud = text.split("@", 1)
    count: int | None = None
    if ":" in text:
        text, raw = text.split(":", 1)
        if not raw.isdigit() or int(raw) < 1:
            raise UnsupportedFeatureError(
                f"Bad GPU spec {spec!r}: the count after ':' must be a positive integer."
            )
        count = int(raw)
    gpu = catalog.gpu(text)
    if cloud is not None and cloud not in {p.cloud for p in gpu.prices}:
        known = ", ".join(sorted(p.cloud for p in gpu.prices))
        raise UnsupportedFeatureError(f"No {gpu.name} price for cloud {cloud!r}; known: {known}.")
    return gpu, count, cloud


def _self_hosted_options(
    counts: TokenCounts,
    entry: ModelEntry,
    catalog: Catalog,
    *,
    method: str,
    epochs: Epochs,
    gpus: Iterable[str] | None,
    validation_fraction: float,
    today: date,
) -> tuple[list[CostEstimate], list[SkippedOption]]:
    runs = read_runs(catalog)
    specs = (
        [parse_gpu_spec(s, catalog) for s in gpus]
        if gpus
        else [(g, None, None) for g in catalog.gpus]
    )
    rows: list[CostEstimate] = []
    skipped: list[SkippedOption] = []
    for gpu, count, cloud in specs:
        offers = [p for p in gpu.prices if cloud is None or p.cloud == cloud]
        if not offers:
            skipped.append(SkippedOption(provider="self-hosted", gpu=gpu.name,
                                         reason="no price in the GPU catalog"))
        for offer in offers:
            try:
                rows.append(
                    self_hosted_estimate(
                        counts, entry, catalog, gpu, offer, method=method, epochs=epochs,
                        n_gpus=count, validation_fraction=validation_fraction, runs=runs,
                        today=today,
                    )
                )
            except DoesNotFitError as exc:
                skipped.append(SkippedOption(provider=offer.cloud, gpu=gpu.name, reason=str(exc)))
                break  # the same GPU does not fit at any other cloud either
    return rows, skipped


def estimate(
    dataset: DatasetLike,
    *,
    provider: str,
    model: str,
    method: str = "lora",
    epochs: Epochs = None,
    validation_fraction: float = 0.0,
    gpus: Sequence[str] | str | None = None,
    catalog: Catalog | None = None,
    today: date | None = None,
) -> CostEstimate:
    """Estimate the cost of one fine-tune on one provider.

    Args:
        dataset: a ``tuneport.dataset.Dataset``, a JSONL path, a :class:`TokenCounts` or a list
            of per-example token counts.
        provider: ``openai``, ``together``, ``fireworks`` or ``local`` (self-hosted: the
            cheapest GPU/cloud where the model fits, or those in ``gpus``).
        model: a canonical name (``llama-3.1-8b-instruct``) or the provider's id.
        method: ``lora`` (default), ``full``, ``qlora``, ``dpo-lora`` or ``dpo-full``.
        epochs: an int, ``"auto"`` (OpenAI's rule) or None for the provider's default.
        validation_fraction: share of examples held out for validation.
        gpus: for ``local``: GPU specs such as ``"H100"``, ``"A100-80GB:2"``,
            ``"H100@runpod-secure"``.
        catalog: a catalog to use instead of :func:`~tuneport.catalog.load_catalog`.
        today: the date prices are aged against (default today).

    Returns:
        The :class:`CostEstimate` (a range with itemized lines and assumptions).

    Raises:
        UnknownProviderError, UnknownModelError: with the nearest names.
        UnsupportedFeatureError: the provider does not offer the method for that model.
        DoesNotFitError: self-hosted and the model fits on none of the GPUs asked for.
    """
    catalog = catalog or load_catalog()
    today = today or date.today()
    pc = catalog.provider(provider)
    entry = catalog.resolve_model(pc.name, model)
    if pc.kind == "hosted":
        counts = _counts(dataset, pc.name, entry.canonical)
        return hosted_estimate(
            counts, pc, entry, method=method, epochs=epochs,
            validation_fraction=validation_fraction, today=today,
        )
    counts = _counts(dataset, pc.name, entry.hf_id or entry.id)
    gpu_list = [gpus] if isinstance(gpus, str) else gpus
    rows, skipped = _self_hosted_options(
        counts, entry, catalog, method=method, epochs=epochs, gpus=gpu_list,
        validation_fraction=validation_fraction, today=today,
    )
    if not rows:
        reasons = "; ".join(s.reason for s in skipped) or "no GPU in the catalog"
        raise DoesNotFitError(f"No self-hosted option for {entry.canonical}: {reasons}")
    return min(rows, key=lambda r: r.training_usd.expected)


def compare(
    dataset: DatasetLike,
    *,
    model: str,
    method: str = "lora",
    epochs: Epochs = None,
    providers: Sequence[str] | None = None,
    gpus: Sequence[str] | None = None,
    validation_fraction: float = 0.0,
    catalog: Catalog | None = None,
    today: date | None = None,
) -> Comparison:
    """Compare every hosted provider offering ``model`` and every GPU/cloud where it fits.

    Args:
        dataset: as for :func:`estimate`.
        model: a canonical name or any provider's id.
        method: as for :func:`estimate`.
        epochs: as for :func:`estimate`; ``None`` uses each provider's default.
        providers: limit to these (``local`` or ``self-hosted`` selects the GPU rows);
            default all.
        gpus: GPU specs for the self-hosted rows (default every GPU in the catalog).
        validation_fraction: share of examples held out for validation.
        catalog: a catalog to use instead of the default.
        today: the date prices are aged against.

    Returns:
        A :class:`Comparison`, rows sorted by expected training cost (cheapest first), with
        the options it left out and why in ``skipped``.

    Raises:
        UnknownModelError: no catalog knows ``model``.
    """
    catalog = catalog or load_catalog()
    today = today or date.today()
    wanted = [p.strip().lower() for p in providers] if providers else None
    if wanted is not None:
        for name in wanted:
            if name != "self-hosted":
                catalog.provider(name)  # did-you-mean on typos
    offers = catalog.offering(model)
    if not offers:
        catalog.find_model(model)  # raises UnknownModelError with suggestions
        raise UnknownModelError(f"No catalog knows the model {model!r}.")
    canonical = next(iter(offers.values())).canonical
    cache = _CountCache(dataset)
    rows: list[CostEstimate] = []
    skipped: list[SkippedOption] = []
    first_counts: TokenCounts | None = None

    for name in catalog.hosted_providers:
        if wanted is not None and name not in wanted:
            continue
        pc = catalog.provider(name)
        entry = offers.get(name)
        if entry is None:
            skipped.append(SkippedOption(provider=name, reason=f"does not offer {canonical}"))
            continue
        if entry.training_available_until is not None and today > entry.training_available_until:
            skipped.append(SkippedOption(
                provider=name,
                reason=f"no new fine-tuning jobs since {entry.training_available_until}",
            ))
            continue
        try:
            counts = cache.get(name, entry.canonical, entry.tokenizer)
            first_counts = first_counts or counts
            rows.append(hosted_estimate(
                counts, pc, entry, method=method, epochs=epochs,
                validation_fraction=validation_fraction, today=today,
            ))
        except UnsupportedFeatureError as exc:
            skipped.append(SkippedOption(provider=name, reason=str(exc)))

    if wanted is None or "local" in wanted or "self-hosted" in wanted:
        local_entry = offers.get("local")
        if local_entry is None:
            local_entry = catalog.resolve_model("local", canonical)
        try:
            counts = cache.get("local", local_entry.hf_id or local_entry.id,
                               local_entry.tokenizer)
            first_counts = first_counts or counts
            more, why = _self_hosted_options(
                counts, local_entry, catalog, method=method, epochs=epochs, gpus=gpus,
                validation_fraction=validation_fraction, today=today,
            )
            rows.extend(more)
            skipped.extend(why)
        except UnsupportedFeatureError as exc:
            skipped.append(SkippedOption(provider="self-hosted", reason=str(exc)))
        except TuneportError as exc:
            # e.g. the model's tokenizer is not available offline for the local count
            skipped.append(SkippedOption(provider="self-hosted", reason=str(exc)))

    rows.sort(key=lambda r: (r.training_usd.expected, r.training_usd.high))
    return Comparison(
        model=canonical,
        examples=first_counts.examples if first_counts else 0,
        tokens=first_counts.total if first_counts else 0,
        rows=tuple(rows),
        skipped=tuple(skipped),
    )
