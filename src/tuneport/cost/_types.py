"""What the cost engine returns: ranges, itemized lines, estimates and comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Comparison",
    "CostEstimate",
    "CostLine",
    "HoursRange",
    "ServingCost",
    "SkippedOption",
    "TokenCounts",
    "UsdRange",
]


def _usd(value: Decimal | float) -> float:
    # Unrounded: a small job's $0.00004 must not print as 0.0.
    return float(value)


def _hours(value: float) -> float:
    return round(value, 4)


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Per-example token counts of one dataset under one tokenizer.

    The engine works on these so every formula can be checked by hand; the dataset module's
    ``TokenStats`` converts with :meth:`from_stats`.

    Attributes:
        per_example: tokens of each example (the central estimate when inexact).
        tokenizer: the tokenizer used (``tiktoken:o200k_base``, ``hf:...``, ``approx``).
        exact: whether the counts are exact for that provider.
        per_example_low, per_example_high: per-example bounds when inexact (optional).
        total_low, total_high: bounds of the total when per-example bounds are not kept.
    """

    per_example: Sequence[int]
    tokenizer: str = "exact"
    exact: bool = True
    per_example_low: Sequence[int] | None = None
    per_example_high: Sequence[int] | None = None
    total_low: int | None = None
    total_high: int | None = None

    @property
    def examples(self) -> int:
        """Number of examples."""
        return len(self.per_example)

    @property
    def total(self) -> int:
        """Tokens in all examples."""
        return sum(self.per_example)

    @classmethod
    def from_stats(cls, stats: Any) -> TokenCounts:
        """Build from a ``tuneport.dataset.TokenStats`` (counted with per-example counts kept)."""
        per = getattr(stats, "per_example", None)
        if per is None:
            raise ValueError("TokenStats without per_example counts; count with count_tokens()")
        exact = bool(stats.exact)
        low = getattr(stats, "per_example_low", None)
        high = getattr(stats, "per_example_high", None)
        return cls(
            per_example=list(per),
            tokenizer=str(stats.tokenizer),
            exact=exact,
            per_example_low=list(low) if low is not None else None,
            per_example_high=list(high) if high is not None else None,
            total_low=None if exact else int(stats.total_low) or None,
            total_high=None if exact else int(stats.total_high) or None,
        )


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UsdRange(_Frozen):
    """A dollar amount as low / expected / high."""

    low: Decimal
    expected: Decimal
    high: Decimal

    def to_dict(self) -> dict[str, float]:
        """Floats for JSON."""
        return {"low": _usd(self.low), "expected": _usd(self.expected), "high": _usd(self.high)}


class HoursRange(_Frozen):
    """Wall-clock hours as low / expected / high."""

    low: float
    expected: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """Floats for JSON."""
        return {
            "low": _hours(self.low), "expected": _hours(self.expected), "high": _hours(self.high)
        }


class ServingCost(_Frozen):
    """What using the fine-tuned model costs, separate from training.

    ``kind`` is ``per_1m_tokens`` (serverless) or ``per_hour`` (a dedicated deployment or a
    rented machine that bills while it is up, whether or not it serves requests).
    """

    kind: Literal["per_1m_tokens", "per_hour"]
    input_usd_per_1m: Decimal | None = None
    cached_input_usd_per_1m: Decimal | None = None
    output_usd_per_1m: Decimal | None = None
    usd_per_hour: Decimal | None = None
    gpu: str | None = None
    gpus: int | None = None
    billing: str | None = None
    as_of: date
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form: only the fields of its kind."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "per_1m_tokens":
            out["input_usd_per_1m"] = _usd(self.input_usd_per_1m or 0)
            out["cached_input_usd_per_1m"] = (
                None if self.cached_input_usd_per_1m is None else _usd(self.cached_input_usd_per_1m)
            )
            out["output_usd_per_1m"] = _usd(self.output_usd_per_1m or 0)
        else:
            out["usd_per_hour"] = _usd(self.usd_per_hour or 0)
            out["gpu"] = self.gpu
            out["gpus"] = self.gpus
            out["billing"] = self.billing
        out["as_of"] = self.as_of.isoformat()
        return out


class CostLine(_Frozen):
    """One itemized line: a quantity, its unit, and (when priced) its unit price and amount."""

    label: str
    quantity: Decimal
    unit: str
    unit_price_usd: Decimal | None = None
    amount_usd: Decimal | None = None
    as_of: date | None = None
    source: str | None = None


class CostEstimate(_Frozen):
    """A cost estimate for one option (a hosted provider, or a GPU type at a cloud).

    Attributes:
        provider: ``openai``, ``together``, ``fireworks`` or, self-hosted, the cloud's name.
        kind: ``hosted`` or ``self-hosted``.
        model: the canonical model name.
        provider_model: the provider's id (hosted) or the Hugging Face id (self-hosted).
        method: the catalog method key (``sft-lora`` ...).
        training_usd: the training cost range.
        hours: wall-clock training hours (self-hosted only).
        serving: what serving the result costs, separately from training.
        epochs: epochs used.
        billed_tokens: tokens billed (hosted) or processed (self-hosted), low/expected/high.
        lines: itemized lines.
        assumptions: every assumption the numbers rest on.
        notes: warnings for the user (stale prices, truncation, availability).
        as_of: the oldest price date used.
        prices_as_of: each price used and its date.
        stale_prices: each price used that is older than the staleness threshold
            (``STALE_AFTER_DAYS``), with its age in days.
        gpus_needed: self-hosted: GPUs the model needs; ``gpus`` is more when the cloud only
            rents whole multi-GPU instances.
    """

    provider: str
    kind: Literal["hosted", "self-hosted"]
    model: str
    provider_model: str
    method: str
    gpu: str | None = None
    gpus: int | None = None
    cloud: str | None = None
    training_usd: UsdRange
    hours: HoursRange | None = None
    serving: ServingCost | None = None
    epochs: int
    billed_tokens: tuple[int, int, int]
    examples: int
    tokenizer: str
    lines: tuple[CostLine, ...] = ()
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    as_of: date
    prices_as_of: dict[str, date] = Field(default_factory=dict)
    stale_prices: dict[str, int] = Field(default_factory=dict)
    gpus_needed: int | None = None

    @property
    def stale(self) -> bool:
        """Whether any price used is older than the staleness threshold."""
        return bool(self.stale_prices)

    @property
    def label(self) -> str:
        """A short name: ``together (hosted)``, ``2x H100-SXM @ runpod-secure``."""
        if self.kind == "hosted":
            return f"{self.provider} (hosted)"
        count = f"{self.gpus}x " if self.gpus and self.gpus > 1 else ""
        return f"{count}{self.gpu} @ {self.cloud}"

    @property
    def minimum_note(self) -> str | None:
        """Why the price is the provider's per-job minimum, when it is (else None).

        ``minimum $3.00 per job (the tokens alone: $0.0055)``: without it a $3.00 row beside
        $0.005 rows looks like a mistake.
        """
        from tuneport.cost._money import usd_text

        minimum = next((line.amount_usd for line in self.lines
                        if line.unit == "job" and line.amount_usd is not None), None)
        if minimum is None:
            return None
        tokens = sum((line.amount_usd for line in self.lines
                      if line.unit == "tokens" and line.amount_usd is not None), Decimal(0))
        return f"minimum {usd_text(minimum)} per job (the tokens alone: {usd_text(tokens)})"

    def to_row(self) -> dict[str, Any]:
        """One row of ``tuneport compare --json``."""
        return {
            "provider": self.provider,
            "kind": self.kind,
            "provider_model": self.provider_model,
            "method": self.method,
            "gpu": self.gpu,
            "gpus": self.gpus,
            "cloud": self.cloud,
            "training_usd": self.training_usd.to_dict(),
            "hours": None if self.hours is None else self.hours.to_dict(),
            "serving": None if self.serving is None else self.serving.to_dict(),
            "as_of": self.as_of.isoformat(),
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        """The full estimate as JSON-ready data (``tuneport estimate --json``)."""
        row = self.to_row()
        row.update(
            {
                "model": self.model,
                "epochs": self.epochs,
                "examples": self.examples,
                "tokenizer": self.tokenizer,
                "billed_tokens": dict(
                    zip(("low", "expected", "high"), self.billed_tokens, strict=True)
                ),
                "lines": [
                    {
                        "label": line.label,
                        "quantity": float(line.quantity),
                        "unit": line.unit,
                        "unit_price_usd": None
                        if line.unit_price_usd is None
                        else float(line.unit_price_usd),
                        "amount_usd": None if line.amount_usd is None else _usd(line.amount_usd),
                        "as_of": None if line.as_of is None else line.as_of.isoformat(),
                        "source": line.source,
                    }
                    for line in self.lines
                ],
                "assumptions": list(self.assumptions),
                "prices_as_of": {k: v.isoformat() for k, v in self.prices_as_of.items()},
                "stale": self.stale,
                "stale_prices": dict(self.stale_prices),
                "gpus_needed": self.gpus_needed,
            }
        )
        return row


class SkippedOption(_Frozen):
    """An option ``compare`` left out, and why (does not fit, not offered, closed)."""

    provider: str
    gpu: str | None = None
    reason: str


class Comparison(_Frozen):
    """Every option for one model and dataset, cheapest expected cost first."""

    model: str
    examples: int
    tokens: int
    rows: tuple[CostEstimate, ...]
    skipped: tuple[SkippedOption, ...] = ()

    def __str__(self) -> str:
        # A plain-text table for print(); the CLI draws the rich one.
        lines = [f"{self.model}: {self.examples:,} examples, {self.tokens:,} tokens - "
                 "training cost, cheapest first"]
        from tuneport.cost._money import usd_range_text, usd_text

        for i, row in enumerate(self.rows, 1):
            usd = row.training_usd
            minimum = row.minimum_note
            lines.append(
                f"{i:>3}. {row.label:<34} {usd_text(usd.expected):>9}  "
                f"({usd_range_text(usd.low, usd.high)})  prices of {row.as_of}"
                + (f"  {minimum}" if minimum else "")
            )
        lines.extend(f"  left out: {s.provider}{' ' + s.gpu if s.gpu else ''}: {s.reason}"
                     for s in self.skipped)
        return "\n".join(lines)

    @property
    def cheapest(self) -> CostEstimate | None:
        """The row with the lowest expected training cost."""
        return self.rows[0] if self.rows else None

    def to_dict(self) -> dict[str, Any]:
        """The ``tuneport compare --json`` object."""
        return {
            "model": self.model,
            "dataset": {"examples": self.examples, "tokens": self.tokens},
            "rows": [row.to_row() for row in self.rows],
        }
