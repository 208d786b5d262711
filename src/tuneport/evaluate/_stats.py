"""The statistics of a comparison: bootstrap intervals and a paired sign test.

Pure Python (no numpy at run time); the tests check each function against scipy
(``scipy.stats.bootstrap`` with the percentile method, ``scipy.stats.binomtest``) on known
cases.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Interval", "Paired", "bootstrap_mean", "paired", "sign_test_p_value"]

#: Differences smaller than this are ties (float noise in a metric is not a win).
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Interval:
    """A mean and its confidence interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Paired:
    """Paired outcomes of the tuned model against the baseline, example by example."""

    wins: int
    ties: int
    losses: int
    p_value: float


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    # Linear interpolation between closest ranks (numpy's default "linear" method).
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap_mean(values: Sequence[float], *, seed: int = 0, resamples: int = 2000,
                   confidence: float = 0.95) -> Interval:
    """The mean with a percentile bootstrap interval.

    Args:
        values: one score per example.
        seed: the resampling seed (the same seed, the same interval).
        resamples: how many bootstrap samples.
        confidence: the interval's coverage.

    Returns:
        The interval; ``nan`` everywhere for no values, the value itself for one.
    """
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan)
    mean = math.fsum(values) / n
    if n == 1 or min(values) == max(values):
        return Interval(mean, mean, mean)
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples))
    alpha = (1.0 - confidence) / 2.0
    return Interval(mean, _percentile(means, alpha), _percentile(means, 1.0 - alpha))


def sign_test_p_value(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven if wins and
    losses were equally likely (ties left out, as the sign test does)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    # P(X <= k) for X ~ Binomial(n, 1/2), doubled for both tails, capped at 1.
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def paired(tuned: Sequence[float], baseline: Sequence[float]) -> Paired:
    """Wins, ties and losses of ``tuned`` against ``baseline`` on the same examples, and
    the sign test's p-value.

    Raises:
        ValueError: the sequences differ in length (they must be paired).
    """
    if len(tuned) != len(baseline):
        raise ValueError("paired() needs one baseline score per tuned score")
    wins = sum(1 for t, b in zip(tuned, baseline, strict=True) if t - b > TIE_TOLERANCE)
    losses = sum(1 for t, b in zip(tuned, baseline, strict=True) if b - t > TIE_TOLERANCE)
    return Paired(wins, len(tuned) - wins - losses, losses, sign_test_p_value(wins, losses))
