"""Hosted fine-tuning cost: billed tokens x price per 1M, with each provider's rules.

Formulas (sources in docs/cost-model.md):

* billed training tokens = epochs x sum(min(tokens_i, max_tokens_per_example)) over the
  training share of the data;
* validation tokens are added per provider rule: ``not_billed`` (OpenAI, Fireworks),
  ``per_eval`` (Together: ``n_evals x validation tokens``), ``as_training`` (epochs x);
* cost = billed / 1e6 x price, then the provider's estimate range, then ``max(cost, minimum)``;
* OpenAI's ``auto`` epochs: 3; if ``n x 3 < 100`` then ``min(25, 100 // n)``; if ``n x 3 >
  25000`` then ``max(1, 25000 // n)`` (openai-cookbook Chat_finetuning_data_prep).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tuneport.catalog import MethodPrice

__all__ = [
    "AUTO_EPOCHS_MAX",
    "AUTO_EPOCHS_MIN",
    "AUTO_EPOCHS_TARGET",
    "BilledTokens",
    "apply_minimum",
    "auto_epochs",
    "billed_tokens",
    "split_validation",
    "token_cost",
    "truncate",
]

AUTO_EPOCHS_TARGET = 3
AUTO_EPOCHS_MIN = 1
AUTO_EPOCHS_MAX = 25
_MIN_TARGET_EXAMPLES = 100
_MAX_TARGET_EXAMPLES = 25_000
_MILLION = Decimal(1_000_000)


def auto_epochs(n_examples: int) -> int:
    """OpenAI's default-epoch rule for ``n_epochs="auto"`` (the cookbook's version).

    >>> auto_epochs(5), auto_epochs(100), auto_epochs(20_000)
    (20, 3, 1)
    """
    if n_examples <= 0:
        return AUTO_EPOCHS_TARGET
    if n_examples * AUTO_EPOCHS_TARGET < _MIN_TARGET_EXAMPLES:
        return min(AUTO_EPOCHS_MAX, _MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * AUTO_EPOCHS_TARGET > _MAX_TARGET_EXAMPLES:
        return max(AUTO_EPOCHS_MIN, _MAX_TARGET_EXAMPLES // n_examples)
    return AUTO_EPOCHS_TARGET


def truncate(per_example: Iterable[int], max_tokens: int | None) -> tuple[int, int]:
    """Sum of tokens after cutting each example at ``max_tokens``.

    Returns:
        (total tokens after truncation, number of examples that were cut)
    """
    total = 0
    cut = 0
    for tokens in per_example:
        if max_tokens is not None and tokens > max_tokens:
            total += max_tokens
            cut += 1
        else:
            total += tokens
    return total, cut


def split_validation(n_examples: int, validation_fraction: float) -> tuple[int, int]:
    """How many examples train and how many validate for a held-out fraction.

    Returns:
        (training examples, validation examples); the validation count is rounded to the
        nearest example and at least one when the fraction is positive and n > 1.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError("validation_fraction must be in [0, 1)")
    if validation_fraction == 0.0 or n_examples < 2:
        return n_examples, 0
    n_val = int((Decimal(n_examples) * Decimal(str(validation_fraction))).to_integral_value(
        rounding=ROUND_HALF_UP))
    n_val = min(max(n_val, 1), n_examples - 1)
    return n_examples - n_val, n_val


@dataclass(frozen=True, slots=True)
class BilledTokens:
    """The parts of a hosted bill, in tokens."""

    train_tokens: int
    validation_tokens: int
    epochs: int
    n_evals: int
    billed_validation: int

    @property
    def billed_training(self) -> int:
        """Training tokens times epochs."""
        return self.train_tokens * self.epochs

    @property
    def total(self) -> int:
        """Everything billed."""
        return self.billed_training + self.billed_validation


def billed_tokens(
    train_tokens: int,
    validation_tokens: int,
    epochs: int,
    validation_billing: str,
    n_evals: int | None = None,
) -> BilledTokens:
    """Apply a provider's validation-billing rule.

    Args:
        train_tokens: tokens (after truncation) of the training examples, one pass.
        validation_tokens: tokens (after truncation) of the validation examples, one pass.
        epochs: passes over the training data.
        validation_billing: ``not_billed``, ``per_eval`` or ``as_training``.
        n_evals: evaluations over the validation set (``per_eval``); default one per epoch.
    """
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    evals = epochs if n_evals is None else n_evals
    if validation_billing == "not_billed" or validation_tokens == 0:
        billed_val = 0
    elif validation_billing == "per_eval":
        billed_val = evals * validation_tokens
    elif validation_billing == "as_training":
        billed_val = epochs * validation_tokens
    else:
        raise ValueError(f"unknown validation_billing {validation_billing!r}")
    return BilledTokens(train_tokens, validation_tokens, epochs, evals, billed_val)


def token_cost(tokens: int, usd_per_1m: Decimal) -> Decimal:
    """``tokens / 1e6 x price``, exact in Decimal."""
    return Decimal(tokens) * usd_per_1m / _MILLION


def apply_minimum(amount: Decimal, price: MethodPrice, *, low_end: bool = False) -> Decimal:
    """Raise an amount to the job minimum, if the price has one.

    An unconfirmed minimum (an old source) is left out of the low end of a range.
    """
    if price.min_charge_usd is None:
        return amount
    if low_end and not price.min_charge_confirmed:
        return amount
    return max(amount, price.min_charge_usd)
