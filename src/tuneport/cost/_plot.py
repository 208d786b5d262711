"""A bar chart of a comparison: each option's low-high range, its expected cost, cheapest marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneport._exceptions import UnsupportedFeatureError
from tuneport.cost._money import usd_text
from tuneport.cost._types import Comparison, CostEstimate

__all__ = ["comparison_figure", "option_label", "plot_comparison", "usd_text"]

_HOSTED = "#2a9d8f"
_RENTED = "#457b9d"
_CHEAPEST = "#e76f51"
# A linear axis hides a $0.02 option next to a $14 one; past this spread use a log axis.
_LOG_SPREAD = 30.0


def option_label(row: CostEstimate) -> str:
    """A short name for one option: ``together (hosted)``, ``2x H100-SXM @ runpod-secure``."""
    return row.label


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UnsupportedFeatureError(
            "Drawing the chart needs matplotlib: pip install 'tuneport[plot]'"
        ) from exc
    return plt


def comparison_figure(result: Comparison) -> Any:
    """A matplotlib ``Figure`` of each option's training cost, cheapest on top and marked.

    A bar spans low to high, a black tick marks the expected cost (written beside it). The
    axis is logarithmic when the options span more than 30x, so cheap ones stay visible.
    The caller closes it (``matplotlib.pyplot.close(fig)``).

    Raises:
        UnsupportedFeatureError: matplotlib is not installed (``pip install 'tuneport[plot]'``).
    """
    plt = _pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    rows = list(result.rows)
    lows = [float(r.training_usd.low) for r in rows]
    expected = [float(r.training_usd.expected) for r in rows]
    highs = [float(r.training_usd.high) for r in rows]
    colors = [_HOSTED if r.kind == "hosted" else _RENTED for r in rows]
    labels = [
        f"{option_label(r)}  (prices {r.as_of.isoformat()}{'*' if r.stale else ''})" for r in rows
    ]
    if rows:
        colors[0] = _CHEAPEST
        labels[0] = f"CHEAPEST: {labels[0]}"

    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.36 * len(rows) + 1.8)))
    ypos = list(range(len(rows)))
    positive = [v for v in lows + expected if v > 0]
    log = bool(positive) and max(highs) / min(positive) > _LOG_SPREAD
    floor = min(positive) / 2 if log else 0.0
    # A range bar needs a visible width even when low == high (an exact hosted price).
    starts = [max(low, floor) for low in lows]
    widths = [max(high - start, 0.0) for high, start in zip(highs, starts, strict=True)]
    ax.barh(ypos, widths, left=starts, height=0.6, color=colors, alpha=0.55,
            edgecolor=colors, linewidth=1.2)
    ax.scatter(expected, ypos, marker="|", s=260, linewidths=2.5, color="black", zorder=3)
    for y, (value, high) in enumerate(zip(expected, highs, strict=True)):
        ax.annotate(f"{usd_text(value)}", (max(high, value), y), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=8,
                    fontweight="bold" if y == 0 else "normal")
    ax.set_yticks(ypos, labels=labels, fontsize=8)
    if rows:
        ax.get_yticklabels()[0].set_fontweight("bold")
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"${value:,.4g}"))
    ax.margins(x=0.12)
    ax.set_xlabel(
        "Training cost, USD" + (" (log scale)" if log else "")
        + ": bar = low to high, black tick = expected"
    )
    ax.set_title(f"{result.model}: {result.examples:,} examples, {result.tokens:,} tokens",
                 fontsize=11)
    ax.legend(
        handles=[Patch(color=_CHEAPEST, label="cheapest (expected)"),
                 Patch(color=_HOSTED, label="hosted fine-tuning"),
                 Patch(color=_RENTED, label="rented GPUs (self-hosted)")],
        # Rows are sorted cheapest first, so the top right corner is empty.
        loc="upper right", fontsize=8, framealpha=0.9,
    )
    ax.grid(axis="x", alpha=0.3, which="both")
    fig.text(0.01, 0.005, "* price older than 120 days; serving is billed separately",
             fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def plot_comparison(result: Comparison, path: str | Path) -> Path:
    """Write :func:`comparison_figure` to a PNG (folders are created).

    Returns:
        The path written.

    Raises:
        UnsupportedFeatureError: matplotlib is not installed (``pip install 'tuneport[plot]'``).
        OSError: the file cannot be written.
    """
    out = Path(path)
    fig = comparison_figure(result)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
    finally:
        _pyplot().close(fig)
    return out
