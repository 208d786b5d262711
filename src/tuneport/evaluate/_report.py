"""The evaluation report: what ``client.evaluate`` returns and ``tuneport eval --json`` prints.

:meth:`EvalReport.to_json` gives exactly the documented shape (plus ``per_example``,
``margin``, ``seed`` and a few details), :meth:`EvalReport.to_html` one self-contained page,
:meth:`EvalReport.summary` the plain text the CLI and the demo print.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EvalReport",
    "ExampleResult",
    "Forgetting",
    "MetricSummary",
    "ModelSummary",
    "PairwiseSummary",
    "Regression",
    "Usage",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricSummary(_Model):
    """A model's mean score on one metric with its 95% bootstrap interval."""

    mean: float
    ci_low: float
    ci_high: float


class ModelSummary(_Model):
    """One model's scores."""

    model: str
    metrics: dict[str, MetricSummary]


class PairwiseSummary(_Model):
    """The tuned model against the baseline on one metric, example by example."""

    wins: int
    ties: int
    losses: int
    p_value: float


class Regression(_Model):
    """An example where the tuned model scored worse than the baseline by more than the
    margin, with both answers."""

    index: int
    metric: str
    tuned: float
    baseline: float
    line: int | None = None
    prompt: str = ""
    reference: str = ""
    tuned_answer: str = ""
    baseline_answer: str = ""


class Forgetting(_Model):
    """The general-capability check (``regression=FILE``): both models on a set that is not
    from the task. ``fell_below`` when the tuned model's paired difference is below zero
    beyond its 95% interval."""

    examples: int
    tuned: float
    baseline: float
    fell_below: bool
    metric: str = "contains"
    diff_ci_low: float = 0.0
    diff_ci_high: float = 0.0
    failed: int = 0
    source: str = ""


class Usage(_Model):
    """What the evaluation cost: requests sent, replies from the cache, tokens, dollars
    (``None`` where the catalog has no per-token price, e.g. a dedicated deployment)."""

    requests: int
    cached: int
    tokens: int
    usd: float | None
    estimated_requests: int = 0
    estimated_tokens: int = 0
    estimated_usd: float | None = None
    notes: tuple[str, ...] = ()


class ExampleResult(_Model):
    """One held-out example: the prompt, the reference, both answers and their scores."""

    index: int
    line: int | None
    prompt: str
    reference: str
    tuned_answer: str | None
    baseline_answer: str | None
    tuned_scores: dict[str, float] = Field(default_factory=dict)
    baseline_scores: dict[str, float] = Field(default_factory=dict)
    error: str | None = None


class EvalReport(_Model):
    """Base vs fine-tuned on held-out data.

    Attributes:
        job: the job (``provider:id``) or the endpoint's model evaluated.
        examples: held-out examples run (failed ones included).
        models: ``tuned`` and ``baseline``: per metric the mean and 95% interval.
        pairwise: per metric the tuned model's wins, ties and losses against the baseline
            and the sign test's two-sided p-value.
        regressions: examples where the tuned model scored worse by more than ``margin``.
        forgetting: the general-capability check, or None without ``regression=``.
        failed: examples that could not be scored (an error after retries).
        usage: requests, cached replies, tokens and dollars.
        per_example: every example, regressions first.
    """

    job: str
    examples: int
    models: dict[str, ModelSummary]
    pairwise: dict[str, PairwiseSummary]
    regressions: list[Regression]
    forgetting: Forgetting | None
    failed: int
    usage: Usage
    margin: float = 0.1
    seed: int = 0
    per_example: list[ExampleResult] = Field(default_factory=list)

    @property
    def metric_names(self) -> list[str]:
        """The metrics, in the order they were asked for."""
        return list(self.models["tuned"].metrics)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (NaN, for a metric no example could score, as null)."""
        data: dict[str, Any] = _no_nan(self.model_dump(mode="json"))
        return data

    def to_json_text(self, *, indent: int | None = 2) -> str:
        """:meth:`to_json` as text."""
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_html(self, path: str | Path) -> Path:
        """Write the report as one self-contained HTML page (no network, inline SVG and CSS).

        Returns:
            The path written.
        """
        from tuneport.evaluate._html import render_html

        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_html(self), encoding="utf-8")
        return target

    def summary(self, *, regressions_shown: int = 1) -> str:
        """Plain text: per metric both means with intervals and the paired outcome, then
        forgetting, failures, usage and the first regressions."""
        tuned, base = self.models["tuned"], self.models["baseline"]
        lines = [f"Evaluation of {self.job} on {self.examples} held-out examples",
                 f"  tuned:    {tuned.model}", f"  baseline: {base.model}", ""]
        width = max([len(n) for n in self.metric_names] + [6])
        lines.append(f"  {'metric':<{width}}  {'tuned':>21}  {'baseline':>21}  "
                     "wins/ties/losses  p-value")
        for name in self.metric_names:
            pair = self.pairwise[name]
            lines.append(
                f"  {name:<{width}}  {_ci(tuned.metrics[name]):>21}  "
                f"{_ci(base.metrics[name]):>21}  "
                f"{f'{pair.wins}/{pair.ties}/{pair.losses}':>16}  {pair.p_value:7.3g}"
            )
        if self.forgetting is not None:
            f = self.forgetting
            verdict = ("FELL BELOW the baseline" if f.fell_below
                       else "no drop beyond the interval")
            lines += ["", f"  general set ({f.examples} examples, {f.metric}): tuned "
                          f"{f.tuned:.3f} vs baseline {f.baseline:.3f}: {verdict}"]
        usd = "n/a" if self.usage.usd is None else f"${self.usage.usd:.4f}"
        lines += ["", f"  failed: {self.failed}   requests: {self.usage.requests}   cached: "
                      f"{self.usage.cached}   tokens: {self.usage.tokens}   cost: {usd}"]
        if self.regressions:
            lines += ["", f"  {len(self.regressions)} regression(s) (tuned worse by more than "
                          f"{self.margin:g}); the largest:"]
            for r in self.regressions[:regressions_shown]:
                lines += [f"    #{r.index} ({r.metric} {r.tuned:.2f} vs {r.baseline:.2f}) "
                          f"{_short(r.prompt)}",
                          f"      reference: {_short(r.reference)}",
                          f"      tuned:     {_short(r.tuned_answer)}",
                          f"      baseline:  {_short(r.baseline_answer)}"]
        else:
            lines += ["", "  no regressions"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _ci(m: MetricSummary) -> str:
    if math.isnan(m.mean):
        return "n/a"
    return f"{m.mean:.3f} [{m.ci_low:.3f}, {m.ci_high:.3f}]"


def _short(text: str, n: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value
