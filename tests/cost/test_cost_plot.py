"""The comparison chart: every option drawn, the cheapest marked, cheap bars kept visible."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tuneport.catalog import Catalog
from tuneport.cost import TokenCounts, compare, comparison_figure, plot_comparison
from tuneport.cost._plot import option_label

TODAY = date(2026, 11, 29)


def _pixels_near(png: Path, rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    import numpy as np
    from matplotlib.image import imread

    image = (imread(str(png))[..., :3] * 255).round().astype(int)
    return int((abs(image - np.array(rgb)).max(axis=-1) <= tolerance).sum())


def test_chart_marks_the_cheapest_and_uses_a_log_axis_for_wide_spreads(
    catalog: Catalog, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    result = compare(TokenCounts([1_000] * 1_000), model="llama-3.1-8b-instruct", epochs=1,
                     gpus=["H100", "L4"], catalog=catalog, today=TODAY)
    png = plot_comparison(result, tmp_path / "sub" / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The cheapest option's edge colour (#e76f51) is drawn; the other kinds' colours too.
    assert _pixels_near(png, (0xE7, 0x6F, 0x51)) > 50
    assert _pixels_near(png, (0x45, 0x7B, 0x9D)) > 50
    assert plt.get_fignums() == []  # the figure is closed, not leaked

    # One row per option, in the table's order, cheapest first and labelled so.
    fig = comparison_figure(result)
    try:
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert len(labels) == len(result.rows)
        assert labels[0].startswith("CHEAPEST: ")
        assert option_label(result.rows[0]) in labels[0]
        # $0.48 hosted vs $10+ for 8x H100 at aws: a linear axis would hide the cheap bars.
        assert ax.get_xscale() == "log"
    finally:
        plt.close(fig)

    close = compare(TokenCounts([1_000] * 1_000), model="llama-3.1-8b-instruct", epochs=1,
                    providers=["local"], gpus=["H100@runpod-community", "H100@lambda"],
                    catalog=catalog, today=TODAY)
    fig = comparison_figure(close)
    try:
        assert fig.axes[0].get_xscale() == "linear"  # $2.69 vs $4.29 per hour: within 30x
    finally:
        plt.close(fig)
