"""Estimates for one option and comparisons across all of them.

The pure estimators (:func:`~tuneport.cost.hosted_estimate`,
:func:`~tuneport.cost.self_hosted_estimate`) take :class:`TokenCounts` and catalog entries, so
tests can check them by hand. :func:`estimate` and :func:`compare` add the one place where a
dataset is counted (``tuneport.dataset.count_tokens``) and the catalog is looked up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from tuneport._exceptions import (
    ConfigError,
    DatasetError,
    DoesNotFitError,
    UnknownModelError,
    UnsupportedFeatureError,
)
from tuneport.catalog import Catalog, GpuEntry, ModelEntry, load_catalog
from tuneport.cost._estimate_parts import Epochs
from tuneport.cost._hosted_estimate import hosted_estimate
from tuneport.cost._selfhosted_estimate import self_hosted_estimate
from tuneport.cost._throughput import read_runs, throughput_file
from tuneport.cost._types import Comparison, CostEstimate, SkippedOption, TokenCounts

__all__ = ["compare", "estimate", "parse_gpu_spec"]

#: What ``estimate`` and ``compare`` accept as data: a ``tuneport.Dataset``, a JSONL path,
#: a list of records (dicts), :class:`TokenCounts` or a list of per-example token counts.
DatasetLike = Any

GpuSpec = tuple[GpuEntry, int | None, str | None]


# ---------------------------------------------------------------------------------------------
# dataset wiring: the one place a dataset is counted


def _as_countable(dataset: DatasetLike) -> Any:
    """A :class:`TokenCounts` as is, else a ``tuneport.Dataset`` to count per target.

    Raises:
        DatasetError: the file does not exist, or the object is not a dataset.
    """
    if isinstance(dataset, TokenCounts):
        return dataset
    if isinstance(dataset, list | tuple) and dataset and all(
        isinstance(x, int) and not isinstance(x, bool) for x in dataset
    ):
        return TokenCounts(per_example=list(dataset))
    from tuneport.dataset import Dataset

    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, str | os.PathLike):
        return Dataset.from_jsonl(os.fspath(dataset))
    if isinstance(dataset, Sequence) and not isinstance(dataset, bytes | bytearray) and all(
        isinstance(r, Mapping) for r in dataset
    ):
        return Dataset.from_records([dict(r) for r in dataset])
    if hasattr(dataset, "column_names") and hasattr(dataset, "features"):
        return Dataset.from_hf(dataset)  # a Hugging Face datasets.Dataset
    raise DatasetError(
        f"Cannot estimate from a {type(dataset).__name__}: pass a tuneport.Dataset, a path to a "
        "JSONL file, a list of records (dicts), or TokenCounts."
    )


def _counts(data: Any, target: str, model: str) -> TokenCounts:
    """Token counts of ``data`` (from :func:`_as_countable`) for one target and model."""
    if isinstance(data, TokenCounts):
        return data
    from tuneport.dataset import count_tokens

    return TokenCounts.from_stats(count_tokens(data, target, model))


class _CountCache:
    """Counts once per (target, tokenizer-relevant model) within one compare call."""

    def __init__(self, dataset: DatasetLike) -> None:
        self._dataset = _as_countable(dataset)
        self._cache: dict[tuple[str, str], TokenCounts] = {}

    def get(self, target: str, model: str, tokenizer: str) -> TokenCounts:
        # Providers render examples differently (templates, masking), so counts are per target.
        key = (target, tokenizer if tokenizer != "approx" else f"approx:{model}")
        if key not in self._cache:
            self._cache[key] = _counts(self._dataset, target, model)
        return self._cache[key]


# ---------------------------------------------------------------------------------------------
# public entry points


def parse_gpu_spec(spec: str, catalog: Catalog) -> GpuSpec:
    """Parse ``H100``, ``H100:2`` or ``H100:2@runpod-secure`` into (GPU, count, cloud).

    Raises:
        UnknownGpuError: the GPU is not in the catalog (with the nearest names).
        UnsupportedFeatureError: a bad count, or no price for that cloud.
    """
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


def _gpu_specs(gpus: Iterable[str] | None, catalog: Catalog) -> list[GpuSpec]:
    """The GPUs asked for, or every GPU in the catalog at any cloud."""
    if gpus:
        return [parse_gpu_spec(spec, catalog) for spec in gpus]
    return [(gpu, None, None) for gpu in catalog.gpus]


def _self_hosted_options(
    counts: TokenCounts,
    entry: ModelEntry,
    catalog: Catalog,
    *,
    method: str,
    epochs: Epochs,
    specs: list[GpuSpec],
    validation_fraction: float,
    today: date,
    runs_file: Path | None = None,
) -> tuple[list[CostEstimate], list[SkippedOption]]:
    runs = read_runs(catalog, runs_file)
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


def _check_options(method: object, epochs: object, validation_fraction: object) -> None:
    """Refuse arguments of the wrong type or range up front, naming the fix.

    Without this a wrong ``epochs`` would surface inside each provider's formula, where
    ``compare`` records it as a skipped row instead of telling the caller.
    """
    if not isinstance(method, str):
        raise ConfigError(f"method= takes a string such as 'lora', not a {type(method).__name__}.")
    # The range (epochs=0, a provider's maximum) is each provider's rule, checked there.
    valid_epochs = epochs is None or epochs == "auto" or (
        isinstance(epochs, int) and not isinstance(epochs, bool))
    if not valid_epochs:
        raise ConfigError(f"epochs= takes a whole number such as 3, or 'auto' (got a "
                          f"{type(epochs).__name__}).")
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, int | float) \
            or not 0 <= validation_fraction < 1:
        raise ConfigError(f"validation_fraction= takes a share from 0 up to (not including) 1, "
                          f"such as 0.1 (got {validation_fraction!r}).")


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
    home: str | Path | None = None,
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
        home: the tuneport home whose measured local runs replace the default MFU
            (default ``TUNEPORT_HOME``).

    Returns:
        The :class:`CostEstimate` (a range with itemized lines and assumptions).

    Raises:
        UnknownProviderError, UnknownModelError: with the nearest names.
        UnsupportedFeatureError: the provider does not offer the method for that model.
        DoesNotFitError: self-hosted and the model fits on none of the GPUs asked for.
    """
    _check_options(method, epochs, validation_fraction)
    catalog = catalog or load_catalog()
    today = today or date.today()
    pc = catalog.provider(provider)
    entry = catalog.resolve_model(pc.name, model)
    data = _as_countable(dataset)
    if pc.kind == "hosted":
        counts = _counts(data, pc.name, entry.canonical)
        return hosted_estimate(
            counts, pc, entry, method=method, epochs=epochs,
            validation_fraction=validation_fraction, today=today,
        )
    specs = _gpu_specs([gpus] if isinstance(gpus, str) else gpus, catalog)
    counts = _counts(data, pc.name, entry.hf_id or entry.id)
    rows, skipped = _self_hosted_options(
        counts, entry, catalog, method=method, epochs=epochs, specs=specs,
        validation_fraction=validation_fraction, today=today, runs_file=throughput_file(home),
    )
    if not rows:
        reasons = "; ".join(s.reason for s in skipped) or "no GPU in the catalog"
        raise DoesNotFitError(f"No self-hosted option for {entry.canonical}: {reasons}")
    return min(rows, key=lambda r: r.training_usd.expected)


def _hosted_rows(
    catalog: Catalog, offers: Mapping[str, ModelEntry], canonical: str,
    wanted: list[str] | None, cache: _CountCache, options: dict[str, Any],
) -> tuple[list[CostEstimate], list[SkippedOption], TokenCounts | None]:
    """One row per hosted provider offering the model; the others, and why, as skipped."""
    rows: list[CostEstimate] = []
    skipped: list[SkippedOption] = []
    first_counts: TokenCounts | None = None
    for name in catalog.hosted_providers:
        if wanted is not None and name not in wanted:
            continue
        entry = offers.get(name)
        if entry is None:
            skipped.append(SkippedOption(provider=name, reason=f"does not offer {canonical}"))
            continue
        until = entry.training_available_until
        if until is not None and options["today"] > until:
            skipped.append(SkippedOption(
                provider=name, reason=f"no new fine-tuning jobs since {until}"))
            continue
        try:
            counts = cache.get(name, entry.canonical, entry.tokenizer)
            first_counts = first_counts or counts
            rows.append(hosted_estimate(counts, catalog.provider(name), entry, **options))
        except UnsupportedFeatureError as exc:
            skipped.append(SkippedOption(provider=name, reason=str(exc)))
    return rows, skipped, first_counts


def _self_hosted_rows(
    catalog: Catalog, local_entry: ModelEntry | None, canonical: str, specs: list[GpuSpec],
    cache: _CountCache, options: dict[str, Any], runs_file: Path | None = None,
) -> tuple[list[CostEstimate], list[SkippedOption], TokenCounts | None]:
    """Rows for each GPU/cloud where the model fits; the rest, and why, as skipped."""
    if local_entry is None:
        return [], [SkippedOption(
            provider="self-hosted",
            reason=f"{canonical} is not in the local catalog (no open weights known); to "
            "compare rented GPUs, add it with hf_id and params_b under [[models]] in "
            "TUNEPORT_CATALOG_DIR/local.toml.",
        )], None
    counts = cache.get("local", local_entry.hf_id or local_entry.id, local_entry.tokenizer)
    try:
        rows, skipped = _self_hosted_options(counts, local_entry, catalog, specs=specs,
                                             runs_file=runs_file, **options)
    except UnsupportedFeatureError as exc:  # e.g. a method the local backend lacks
        rows, skipped = [], [SkippedOption(provider="self-hosted", reason=str(exc))]
    return rows, skipped, counts


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
    home: str | Path | None = None,
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
        home: the tuneport home whose measured local runs replace the default MFU
            (default ``TUNEPORT_HOME``).

    Returns:
        A :class:`Comparison`, rows sorted by expected training cost (cheapest first), with
        the options it left out and why in ``skipped``.

    Raises:
        UnknownModelError: no catalog knows ``model``.
    """
    _check_options(method, epochs, validation_fraction)
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
    # Typos in GPU names fail here, before any counting, not as a silently skipped row.
    specs = _gpu_specs(gpus, catalog)
    cache = _CountCache(dataset)
    options = {"method": method, "epochs": epochs, "validation_fraction": validation_fraction,
               "today": today}
    rows, skipped, first_counts = _hosted_rows(catalog, offers, canonical, wanted, cache,
                                               options)
    if wanted is None or "local" in wanted or "self-hosted" in wanted:
        more, why, counts = _self_hosted_rows(catalog, offers.get("local"), canonical, specs,
                                              cache, options, throughput_file(home))
        rows.extend(more)
        skipped.extend(why)
        first_counts = first_counts or counts

    rows.sort(key=lambda r: (r.training_usd.expected, r.training_usd.high))
    return Comparison(
        model=canonical,
        examples=first_counts.examples if first_counts else 0,
        tokens=first_counts.total if first_counts else 0,
        rows=tuple(rows),
        skipped=tuple(skipped),
    )
