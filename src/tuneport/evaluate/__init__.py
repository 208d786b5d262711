"""Evaluate a fine-tune: base vs fine-tuned on held-out data, with paired statistics.

``client.evaluate(job, heldout)`` (see :meth:`tuneport.Client.evaluate`) is the usual way
in; this package holds the parts: named metrics (:mod:`._metrics`), the pairwise judge,
bootstrap intervals and the sign test (:mod:`._stats`), the cached, concurrent request
engine, and the report (:class:`EvalReport`: JSON and one self-contained HTML page).
"""

from tuneport.evaluate._engine import DEFAULT_RATE_LIMITS
from tuneport.evaluate._judge import DEFAULT_JUDGE_PROMPT, Judge
from tuneport.evaluate._metrics import (
    METRIC_NAMES,
    Metric,
    Reference,
    Reply,
    default_metric_names,
    json_schema,
    regex,
    resolve_metrics,
)
from tuneport.evaluate._progress import ProgressPrinter
from tuneport.evaluate._report import (
    EvalReport,
    ExampleResult,
    Forgetting,
    MetricSummary,
    ModelSummary,
    PairwiseSummary,
    Regression,
    Usage,
)
from tuneport.evaluate._resolve import baseline_target, judge_from, target_for
from tuneport.evaluate._runner import load_items, run_evaluation
from tuneport.evaluate._stats import bootstrap_mean, paired, sign_test_p_value
from tuneport.evaluate._targets import LocalTarget, OpenAITarget, Target, parse_model_url

__all__ = [
    "DEFAULT_JUDGE_PROMPT",
    "DEFAULT_RATE_LIMITS",
    "METRIC_NAMES",
    "EvalReport",
    "ExampleResult",
    "Forgetting",
    "Judge",
    "LocalTarget",
    "Metric",
    "MetricSummary",
    "ModelSummary",
    "OpenAITarget",
    "PairwiseSummary",
    "ProgressPrinter",
    "Reference",
    "Regression",
    "Reply",
    "Target",
    "Usage",
    "baseline_target",
    "bootstrap_mean",
    "default_metric_names",
    "json_schema",
    "judge_from",
    "load_items",
    "paired",
    "parse_model_url",
    "regex",
    "resolve_metrics",
    "run_evaluation",
    "sign_test_p_value",
    "target_for",
]
