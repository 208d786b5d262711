"""DPO costs: self-hosted FLOPs counted per pair-token (policy forward + backward + the
reference forward; full DPO's reference once), hosted prices from each catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tuneport.catalog import load_catalog
from tuneport.cost import TokenCounts, estimate

N = 8.03e9  # llama-3.1-8b-instruct in the local catalog


def _flops(method: str, epochs: int) -> Decimal:
    est = estimate(TokenCounts([1000] * 10), provider="local", model="llama-3.1-8b-instruct",
                   method=method, epochs=epochs, catalog=load_catalog())
    (line,) = [x for x in est.lines if x.label.startswith("FLOPs")]
    return line.quantity


def test_dpo_lora_is_policy_forward_backward_plus_reference_forward() -> None:
    # 2N forward + 2N activation backward + 2N reference forward, every epoch.
    assert float(_flops("dpo-lora", 2)) == pytest.approx(6 * N * 10_000 * 2, rel=1e-9)
    assert float(_flops("lora", 2)) == pytest.approx(4 * N * 10_000 * 2, rel=1e-9)


def test_dpo_full_adds_one_reference_pass_whatever_the_epochs() -> None:
    one, three = float(_flops("dpo-full", 1)), float(_flops("dpo-full", 3))
    assert one == pytest.approx((6 * 1 + 2) * N * 10_000, rel=1e-9)
    assert three == pytest.approx((6 * 3 + 2) * N * 10_000, rel=1e-9)


@pytest.mark.parametrize(("provider", "ratio"), [("together", 2.5), ("fireworks", 2.0)])
def test_hosted_dpo_prices_come_from_the_catalog(provider: str, ratio: float) -> None:
    counts = TokenCounts([10_000] * 1000)  # 10M tokens: above any minimum charge
    kwargs = {"provider": provider, "model": "llama-3.1-8b-instruct", "epochs": 1,
              "catalog": load_catalog()}
    sft = estimate(counts, method="lora", **kwargs)
    dpo = estimate(counts, method="dpo-lora", **kwargs)
    assert float(dpo.training_usd.expected) == pytest.approx(
        ratio * float(sft.training_usd.expected), rel=1e-6)
