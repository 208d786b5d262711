"""Each cost formula against numbers worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tuneport.catalog import MethodPrice
from tuneport.cost import (
    apply_minimum,
    auto_epochs,
    billed_tokens,
    memory_fit,
    smallest_fitting_count,
    split_validation,
    token_cost,
    training_flops,
    training_hours,
    truncate,
)


@pytest.mark.parametrize(
    ("n", "epochs"),
    [
        (1, 25),  # 100 // 1 = 100, capped at 25
        (5, 20),  # the cookbook's own example
        (10, 10),
        (33, 3),  # 99 < 100 -> min(25, 100 // 33 = 3)
        (34, 3),
        (8_333, 3),  # 24,999 <= 25,000
        (8_334, 2),  # 25,002 > 25,000 -> 25,000 // 8,334 = 2
        (30_000, 1),
    ],
)
def test_auto_epochs_follows_the_cookbook(n: int, epochs: int) -> None:
    assert auto_epochs(n) == epochs


def test_truncate_counts_cut_examples() -> None:
    assert truncate([20_000, 100, 16_385], 16_385) == (16_385 + 100 + 16_385, 1)
    assert truncate([5, 6], None) == (11, 0)


def test_split_validation_rounds_and_keeps_one_each() -> None:
    assert split_validation(100, 0.1) == (90, 10)
    assert split_validation(100, 0.0) == (100, 0)
    assert split_validation(3, 0.01) == (2, 1)  # at least one validation example
    assert split_validation(2, 0.99) == (1, 1)  # at least one training example
    with pytest.raises(ValueError, match="validation_fraction"):
        split_validation(10, 1.0)


def test_billed_tokens_per_validation_rule() -> None:
    # 9,000 training + 1,000 validation tokens, 2 epochs.
    assert billed_tokens(9_000, 1_000, 2, "not_billed").total == 18_000
    assert billed_tokens(9_000, 1_000, 2, "per_eval").total == 18_000 + 2 * 1_000
    assert billed_tokens(9_000, 1_000, 2, "per_eval", n_evals=5).total == 18_000 + 5_000
    assert billed_tokens(9_000, 1_000, 3, "as_training").total == 27_000 + 3_000
    with pytest.raises(ValueError, match="epochs"):
        billed_tokens(1, 0, 0, "not_billed")


def test_token_cost_is_exact_decimal() -> None:
    # The cost-model worked example: 3e7 tokens at Together's 0.48 -> $14.40.
    assert token_cost(30_000_000, Decimal("0.48")) == Decimal("14.40")
    assert token_cost(86_120, Decimal("3.00")) == Decimal("0.25836")


def _price(minimum: str | None, confirmed: bool = True) -> MethodPrice:
    from datetime import date

    return MethodPrice(
        usd_per_1m=Decimal("0.50"),
        min_charge_usd=None if minimum is None else Decimal(minimum),
        min_charge_confirmed=confirmed,
        as_of=date(2026, 10, 8),
        source="test",
    )


def test_minimum_charge() -> None:
    assert apply_minimum(Decimal("0.01"), _price("3.00")) == Decimal("3.00")
    assert apply_minimum(Decimal("5.00"), _price("3.00")) == Decimal("5.00")
    assert apply_minimum(Decimal("0.01"), _price(None)) == Decimal("0.01")
    # An unconfirmed minimum stays out of the low end only.
    assert apply_minimum(Decimal("0.01"), _price("3.00", False), low_end=True) == Decimal("0.01")
    assert apply_minimum(Decimal("0.01"), _price("3.00", False)) == Decimal("3.00")


def test_flops_and_hours_match_the_worked_example() -> None:
    # Llama-3.1-8B LoRA on 3e7 tokens: 4 x 8.03e9 x 3e7 = 9.636e17 FLOPs.
    flops = training_flops(4.0, 8.03, 3e7)
    assert flops == pytest.approx(9.636e17)
    # H100 SXM (989 TFLOPS) at MFU 0.20: 9.636e17 / 1.978e14 = 4,871 s = 1.353 h.
    assert training_hours(flops, 989, 0.20, 1) == pytest.approx(4871.6 / 3600, rel=1e-3)
    # Twice the GPUs, half the hours.
    one = training_hours(flops, 989, 0.2, 1)
    assert training_hours(flops, 989, 0.20, 2) == pytest.approx(one / 2)
    with pytest.raises(ValueError, match="positive"):
        training_hours(flops, 989, 0.0, 1)


def test_memory_fit_by_hand(memory_model: object) -> None:
    from tuneport.catalog import MemoryModel

    assert isinstance(memory_model, MemoryModel)
    # LoRA 7B: (2 + 0.15 x 2) x 7 + 1.5 = 17.6 GB; fits a 24 GB card (21.6 usable).
    fit = memory_fit(7.0, "sft-lora", 24, 1, memory_model)
    assert fit.required_gb_per_gpu == pytest.approx(17.6)
    assert fit.available_gb_per_gpu == pytest.approx(21.6)
    assert fit.fits
    # Full 7B: (16 + 0.3) x 7 + 1.5 = 115.6 GB on one 80 GB GPU: no; on two: 58.55 GB, yes.
    assert not memory_fit(7.0, "sft-full", 80, 1, memory_model).fits
    two = smallest_fitting_count(7.0, "sft-full", 80, memory_model)
    assert two is not None
    assert two.n_gpus == 2
    assert two.required_gb_per_gpu == pytest.approx(58.55)
    # QLoRA 70.6B: (0.55 + 0.3) x 70.6 + 1.5 = 61.51 GB fits one H100 (72 usable).
    assert memory_fit(70.6, "sft-qlora", 80, 1, memory_model).required_gb_per_gpu == \
        pytest.approx(61.51)
    # Full 70.6B does not fit on eight 24 GB cards: (16.3 x 70.6) / 8 + 1.5 = 145.3 GB each.
    assert smallest_fitting_count(70.6, "sft-full", 24, memory_model) is None
