"""Pieces both estimators share: epochs, token totals per split, price ages, wording."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Literal

from tuneport._exceptions import UnsupportedFeatureError
from tuneport.catalog import STALE_AFTER_DAYS
from tuneport.cost._hosted import auto_epochs, truncate
from tuneport.cost._types import TokenCounts

__all__ = [
    "Epochs",
    "SplitTokens",
    "dec",
    "instance_note",
    "resolve_epochs",
    "split_tokens",
    "stale_note",
    "stale_prices",
    "tokenizer_assumption",
    "truncated_totals",
]

Epochs = int | Literal["auto"] | None


def resolve_epochs(epochs: Epochs, default: int | Literal["auto"], n_train: int) -> tuple[int, str]:
    """Turn ``None`` / ``"auto"`` / an int into epochs plus the assumption behind them.

    Raises:
        UnsupportedFeatureError: epochs is not a positive integer or ``"auto"``.
    """
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


def truncated_totals(counts: TokenCounts, max_tokens: int | None) -> tuple[int, int, int, int]:
    """(low, expected, high, examples cut) of the one-pass total after truncation."""
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


SplitTokens = tuple[int, int]


def split_tokens(
    totals: Sequence[int], n_train: int, n_val: int, n_examples: int
) -> list[SplitTokens]:
    """Split each one-pass total into (training, validation) tokens by example share.

    The counts are per example, but the held-out examples are not chosen yet, so each side
    gets its share of the total.
    """
    out: list[SplitTokens] = []
    for total in totals:
        train = total if n_examples == 0 else round(total * n_train / n_examples)
        out.append((train, total - train if n_val else 0))
    return out


def tokenizer_assumption(counts: TokenCounts) -> str:
    """The assumption line saying how tokens were counted."""
    return f"tokens counted with {counts.tokenizer}" + (
        "" if counts.exact else " (approximate; the range covers the uncertainty)"
    )


def stale_prices(prices: dict[str, date], today: date) -> dict[str, int]:
    """Each price older than :data:`~tuneport.catalog.STALE_AFTER_DAYS`, with its age in days."""
    ages = {label: (today - as_of).days for label, as_of in prices.items()}
    return {label: age for label, age in ages.items() if age > STALE_AFTER_DAYS}


def stale_note(label: str, as_of: date, age_days: int) -> str:
    """The note an estimate carries for one stale price."""
    return (
        f"Price '{label}' is from {as_of.isoformat()} ({age_days} days old, over "
        f"{STALE_AFTER_DAYS}): check the current price and override it in "
        "TUNEPORT_CATALOG_DIR if it changed."
    )


def dec(value: float) -> Decimal:
    """A float as the Decimal of its shortest repr (no binary noise digits)."""
    return Decimal(repr(value))


def instance_note(cloud: str, gpu: str, billed: int, needed: int) -> str:
    """The note of a cloud that rents a GPU only as whole multi-GPU instances."""
    return (
        f"{cloud} rents {gpu} only as whole {billed}-GPU instances: {billed} GPUs billed, "
        f"the model needs {needed}."
    )
