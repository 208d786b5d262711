"""The statistics against scipy on known cases: the sign test is scipy's exact binomial
test, the percentile bootstrap lands where scipy's does."""

from __future__ import annotations

import math
import random

import pytest

scipy_stats = pytest.importorskip("scipy.stats")

from tuneport.evaluate import bootstrap_mean, paired, sign_test_p_value  # noqa: E402


@pytest.mark.parametrize(("wins", "losses"), [(0, 0), (1, 0), (6, 0), (0, 6), (7, 3), (3, 7),
                                              (10, 10), (25, 9), (1, 40), (60, 45)])
def test_sign_test_is_scipys_exact_binomial_test(wins: int, losses: int) -> None:
    expected = 1.0 if wins + losses == 0 else scipy_stats.binomtest(
        wins, wins + losses, 0.5, alternative="two-sided").pvalue
    assert sign_test_p_value(wins, losses) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_a_known_case_by_hand() -> None:
    # Six wins, no loss: 2 * (1/2)^6 = 1/32.
    assert sign_test_p_value(6, 0) == pytest.approx(1 / 32)


def test_paired_counts_and_leaves_ties_out_of_the_test() -> None:
    tuned = [1.0, 0.5, 0.2, 0.9, 0.9, 0.3]
    base = [0.0, 0.5, 0.4, 0.1, 0.9, 0.3 + 1e-12]
    result = paired(tuned, base)
    assert (result.wins, result.ties, result.losses) == (2, 3, 1)
    assert result.p_value == pytest.approx(scipy_stats.binomtest(2, 3, 0.5).pvalue)
    with pytest.raises(ValueError, match="paired"):
        paired([1.0], [])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_interval_matches_scipy_percentile_bootstrap(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.random() ** 2 for _ in range(60)]
    ours = bootstrap_mean(values, seed=seed, resamples=4000)
    theirs = scipy_stats.bootstrap((values,), lambda x, axis: x.mean(axis=axis),
                                   n_resamples=4000, method="percentile",
                                   confidence_level=0.95, random_state=seed).confidence_interval
    assert ours.mean == pytest.approx(sum(values) / len(values))
    # Two Monte Carlo estimates of the same quantiles: they agree to the resampling noise.
    assert ours.low == pytest.approx(theirs.low, abs=0.012)
    assert ours.high == pytest.approx(theirs.high, abs=0.012)
    # The textbook normal interval is close as well for a smooth statistic like the mean.
    se = scipy_stats.sem(values)
    assert ours.low == pytest.approx(ours.mean - 1.96 * se, abs=0.015)


def test_bootstrap_is_seeded_and_handles_degenerate_samples() -> None:
    values = [i / 39 for i in range(40)]
    assert bootstrap_mean(values, seed=3) == bootstrap_mean(values, seed=3)
    assert bootstrap_mean(values, seed=3) != bootstrap_mean(values, seed=4)
    same = bootstrap_mean([0.5] * 10)
    assert (same.mean, same.low, same.high) == (0.5, 0.5, 0.5)
    empty = bootstrap_mean([])
    assert math.isnan(empty.mean)
