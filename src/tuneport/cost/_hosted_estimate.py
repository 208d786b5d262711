"""A hosted provider's estimate: billed tokens x dated price, with its rules and notes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tuneport._exceptions import UnsupportedFeatureError
from tuneport.catalog import MethodPrice, ModelEntry, ProviderCatalog, method_key
from tuneport.cost._estimate_parts import (
    Epochs,
    dec,
    resolve_epochs,
    split_tokens,
    stale_note,
    stale_prices,
    tokenizer_assumption,
    truncated_totals,
)
from tuneport.cost._hosted import (
    BilledTokens,
    apply_minimum,
    billed_tokens,
    split_validation,
    token_cost,
)
from tuneport.cost._types import CostEstimate, CostLine, ServingCost, TokenCounts, UsdRange

__all__ = ["hosted_estimate"]

#: Announced end dates closer than this get a note.
_SOON_DAYS = 90


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


def _priced_tokens(label: str, tokens: int, price: MethodPrice) -> CostLine:
    return CostLine(
        label=label,
        quantity=Decimal(tokens),
        unit="tokens",
        unit_price_usd=price.usd_per_1m,
        amount_usd=token_cost(tokens, price.usd_per_1m),
        as_of=price.as_of,
        source=price.source,
    )


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
    *token_totals, cut = truncated_totals(counts, max_tokens)
    n = counts.examples
    range_low, range_high = provider.estimate_range

    # low / expected / high: the token-count range times the provider's own estimate spread;
    # an unconfirmed minimum charge stays out of the low end.
    bills = [
        billed_tokens(train, val, n_epochs, provider.validation_billing, n_evals)
        for train, val in split_tokens(token_totals, n_train, n_val, n)
    ]
    amounts = [
        apply_minimum(token_cost(bill.total, price.usd_per_1m) * dec(factor), price,
                      low_end=which == 0)
        for which, (bill, factor) in enumerate(zip(bills, (range_low, 1.0, range_high),
                                                   strict=True))
    ]
    parts = bills[1]

    label = f"{provider.name} training ({key})"
    prices_as_of = {label: price.as_of}
    notes = _notes(provider, entry, cut, n_train, n_epochs, today)
    serving, serving_notes = _serving_from_entry(entry)
    notes.extend(serving_notes)
    if serving is not None:
        prices_as_of[f"{provider.name} serving"] = serving.as_of
    stale = stale_prices(prices_as_of, today)
    notes.extend(stale_note(label, prices_as_of[label], age) for label, age in stale.items())

    return CostEstimate(
        provider=provider.name,
        kind="hosted",
        model=entry.canonical,
        provider_model=entry.id,
        method=key,
        training_usd=UsdRange(low=amounts[0], expected=amounts[1], high=amounts[2]),
        serving=serving,
        epochs=n_epochs,
        billed_tokens=(bills[0].total, bills[1].total, bills[2].total),
        examples=n,
        tokenizer=counts.tokenizer,
        lines=_lines(provider, entry, price, parts, n_train, n_val, n_epochs, amounts[1]),
        assumptions=_assumptions(provider, counts, price, key, epoch_note, parts, n_val),
        notes=tuple(notes),
        as_of=min(prices_as_of.values()),
        prices_as_of=prices_as_of,
        stale_prices=stale,
    )


def _lines(provider: ProviderCatalog, entry: ModelEntry, price: MethodPrice,
           parts: BilledTokens, n_train: int, n_val: int, n_epochs: int,
           expected_usd: Decimal) -> tuple[CostLine, ...]:
    """The itemized bill at the expected token count."""
    max_tokens = entry.max_tokens_per_example
    lines = [
        CostLine(label="training examples", quantity=Decimal(n_train), unit="examples"),
        CostLine(
            label="tokens per epoch"
            + (f" (at most {max_tokens:,} per example)" if max_tokens else ""),
            quantity=Decimal(parts.train_tokens),
            unit="tokens",
        ),
        CostLine(label="epochs", quantity=Decimal(n_epochs), unit="epochs"),
        _priced_tokens("billed training tokens", parts.billed_training, price),
    ]
    if n_val:
        lines.append(_priced_tokens(
            f"validation tokens billed ({provider.validation_billing})",
            parts.billed_validation, price,
        ))
    if price.min_charge_usd is not None:
        applied = expected_usd == price.min_charge_usd and token_cost(
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
    return tuple(lines)


def _assumptions(provider: ProviderCatalog, counts: TokenCounts, price: MethodPrice, key: str,
                 epoch_note: str, parts: BilledTokens, n_val: int) -> tuple[str, ...]:
    """What the numbers rest on: tokenizer, epochs, the price, spread, validation, minimum."""
    from tuneport.cost._money import usd_text

    range_low, range_high = provider.estimate_range
    assumptions = [
        tokenizer_assumption(counts),
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
        assumptions.append(f"{n_val} of {counts.examples} examples held out for validation; "
                           f"{rule}")
    if price.min_charge_usd is not None and not price.min_charge_confirmed:
        assumptions.append(
            f"minimum charge {usd_text(price.min_charge_usd)} per job from an old source; left "
            "out of the low end"
        )
    return tuple(assumptions)


def _notes(provider: ProviderCatalog, entry: ModelEntry, cut: int, n_train: int,
           n_epochs: int, today: date) -> list[str]:
    """Warnings: truncated examples, the provider's examples x epochs limit, availability."""
    max_tokens = entry.max_tokens_per_example
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
    return notes
