"""Cost estimates users can trust: dated prices, ranges, itemized lines, assumptions.

* :func:`estimate` - one provider (hosted, or ``local`` for rented GPUs).
* :func:`compare` - every hosted provider offering the model and every GPU/cloud where it
  fits, cheapest first.
* :func:`plot_comparison` / :func:`comparison_figure` - a bar chart of a comparison (PNG or
  matplotlib figure; needs ``tuneport[plot]``).
* :func:`usd_text`, :func:`per_million_text` ... - money written one way everywhere.
* Pure formulas (:func:`auto_epochs`, :func:`billed_tokens`, :func:`training_flops`,
  :func:`memory_fit` ...) and the estimators on :class:`TokenCounts`
  (:func:`hosted_estimate`, :func:`self_hosted_estimate`) for checking by hand.

See docs/cost-model.md for every formula and default, with sources.
"""

from __future__ import annotations

from tuneport.cost._engine import compare, estimate, parse_gpu_spec
from tuneport.cost._estimate_parts import resolve_epochs
from tuneport.cost._hosted import (
    BilledTokens,
    apply_minimum,
    auto_epochs,
    billed_tokens,
    split_validation,
    token_cost,
    truncate,
)
from tuneport.cost._hosted_estimate import hosted_estimate
from tuneport.cost._money import per_million_text, unit_price_text, usd_range_text, usd_text
from tuneport.cost._plot import comparison_figure, plot_comparison
from tuneport.cost._selfhosted import (
    GPU_COUNTS,
    MemoryFit,
    memory_fit,
    smallest_fitting_count,
    training_flops,
    training_hours,
)
from tuneport.cost._selfhosted_estimate import self_hosted_estimate
from tuneport.cost._throughput import MeasuredRun, match_gpu, measured_mfu, read_runs
from tuneport.cost._types import (
    Comparison,
    CostEstimate,
    CostLine,
    HoursRange,
    ServingCost,
    SkippedOption,
    TokenCounts,
    UsdRange,
)

__all__ = [
    "GPU_COUNTS",
    "BilledTokens",
    "Comparison",
    "CostEstimate",
    "CostLine",
    "HoursRange",
    "MeasuredRun",
    "MemoryFit",
    "ServingCost",
    "SkippedOption",
    "TokenCounts",
    "UsdRange",
    "apply_minimum",
    "auto_epochs",
    "billed_tokens",
    "compare",
    "comparison_figure",
    "estimate",
    "hosted_estimate",
    "match_gpu",
    "measured_mfu",
    "memory_fit",
    "parse_gpu_spec",
    "per_million_text",
    "plot_comparison",
    "read_runs",
    "resolve_epochs",
    "self_hosted_estimate",
    "smallest_fitting_count",
    "split_validation",
    "token_cost",
    "training_flops",
    "training_hours",
    "truncate",
    "unit_price_text",
    "usd_range_text",
    "usd_text",
]
