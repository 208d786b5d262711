"""How tuneport writes money: one rule, used by every table, chart, note and example.

Dollars have two decimals (``$1,234.50``, ``$3.00``, ``$0.48``). Below a cent two decimals
would print ``$0.00`` for a real cost, so there, and only there, two significant digits are
kept (``$0.0053``, ``$0.00042``). Per-token prices always say what they are per
(``$0.48 per 1M tokens``): a bare ``$0.48`` beside a token count reads as a price per token.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

__all__ = ["per_million_text", "unit_price_text", "usd_range_text", "usd_text"]

# Below this an amount would round to $0.00 or $0.01 with two decimals.
_CENT = 0.00995


def usd_text(value: Decimal | float | int | Any) -> str:
    """An amount in dollars: two decimals, two significant digits below a cent."""
    amount = float(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0.00"
    if amount >= _CENT:
        return f"{sign}${amount:,.2f}"
    decimals = 1 - math.floor(math.log10(amount))  # two significant digits
    return f"{sign}${amount:.{decimals}f}"


def usd_range_text(low: Decimal | float, high: Decimal | float) -> str:
    """``$0.0040-$0.0076``, or one amount when both ends are equal."""
    if float(low) == float(high):
        return usd_text(low)
    return f"{usd_text(low)}-{usd_text(high)}"


def per_million_text(price: Decimal | float, unit: str = "tokens") -> str:
    """A per-token price, labelled: ``$0.48 per 1M tokens``."""
    return f"{usd_text(price)} per 1M {unit}"


def unit_price_text(price: Decimal | float, unit: str) -> str:
    """A table cell's unit price: ``$0.48/1M tokens``, ``$3.00/job``, ``$2.69/GPU-hour``."""
    if unit == "tokens":
        return f"{usd_text(price)}/1M tokens"
    one = unit[:-1] if unit.endswith("s") else unit
    return f"{usd_text(price)}/{one}"
