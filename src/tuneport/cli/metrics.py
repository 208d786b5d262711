"""``tuneport metrics JOB``: a job's training metrics per step, DPO columns when it has them."""

from __future__ import annotations

import typer

__all__ = ["metrics_command", "register"]

# (MetricPoint field, column title, format) in display order; a column shows when any
# step has a value (the DPO ones only for preference jobs).
_COLUMNS = (
    ("train_loss", "loss", "{:.4f}"),
    ("eval_loss", "eval loss", "{:.4f}"),
    ("rewards_chosen", "reward chosen", "{:+.4f}"),
    ("rewards_rejected", "reward rejected", "{:+.4f}"),
    ("reward_margin", "margin", "{:+.4f}"),
    ("preference_accuracy", "accuracy", "{:.2f}"),
    ("learning_rate", "lr", "{:.2e}"),
    ("tokens_per_second", "tok/s", "{:.0f}"),
)


def register(app: typer.Typer) -> None:
    """Add ``metrics`` to the ``tuneport`` app."""
    app.command("metrics")(metrics_command)


def metrics_command(
    job: str = typer.Argument(..., help="provider:id, or an id the ledger knows."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show a job's metrics per step (loss; for DPO also rewards, margin and accuracy)."""
    from tuneport.cli.jobs import _client, _emit, _handled, _out

    with _handled(as_json), _client(None) as client:
        points = client.metrics(job)
        if as_json:
            _emit({"job": job, "metrics": [p.model_dump(mode="json") for p in points]})
            return
        console = _out()
        if not points:
            console.print("No metrics yet.")
            return
        from rich.table import Table

        shown = [c for c in _COLUMNS if any(getattr(p, c[0]) is not None for p in points)]
        table = Table(box=None, pad_edge=False)
        table.add_column("step", justify="right")
        for _, title, _ in shown:
            table.add_column(title, justify="right")
        for point in points:
            cells = []
            for name, _, fmt in shown:
                value = getattr(point, name)
                cells.append("" if value is None else fmt.format(value))
            table.add_row(str(point.step), *cells)
        console.print(table)
