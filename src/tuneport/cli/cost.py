"""``tuneport estimate`` and ``tuneport compare``: what a fine-tune costs, before spending."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from tuneport.cost import Comparison, CostEstimate

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``estimate`` and ``compare`` to the ``tuneport`` app."""
    app.command("estimate")(estimate_command)
    app.command("compare")(compare_command)


def _parse_epochs(value: str | None) -> int | Literal["auto"] | None:
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return "auto"
    n = int(value) if value.strip().isdigit() else 0
    if n < 1:
        raise typer.BadParameter("use a positive integer or 'auto'", param_hint="--epochs")
    return n


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = [part.strip() for v in values for part in v.split(",") if part.strip()]
    return out or None


def _fail(exc: Exception, as_json: bool) -> typer.Exit:
    if as_json:
        error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
        suggestions = getattr(exc, "suggestions", None)
        if suggestions:
            error["suggestions"] = list(suggestions)
        typer.echo(json.dumps({"error": error}))
    else:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]Error:[/] {escape(str(exc))}")
    return typer.Exit(1)


def _money(value: Any) -> str:
    amount = float(value)
    if amount >= 100:
        return f"${amount:,.0f}"
    if amount >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}".rstrip("0").rstrip(".") if amount else "$0"


def _serving_text(row: CostEstimate) -> str:
    s = row.serving
    if s is None:
        return "-"
    if s.kind == "per_1m_tokens":
        return f"${s.input_usd_per_1m}/${s.output_usd_per_1m} per 1M in/out"
    if s.gpus == 1:
        return f"${s.usd_per_hour}/h ({s.gpu})"
    return f"${s.usd_per_hour}/h ({s.gpus}x {s.gpu})"


def _option_label(row: CostEstimate) -> str:
    if row.kind == "hosted":
        return f"{row.provider} (hosted)"
    return f"{row.gpus}x {row.gpu} @ {row.cloud}"


def _hours_text(row: CostEstimate) -> str:
    if row.hours is None:
        return "-"
    return f"{row.hours.low:.2f}-{row.hours.high:.2f}"


def _print_comparison(result: Comparison, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    methods = sorted({r.method for r in result.rows})
    table = Table(
        title=f"{result.model} ({', '.join(methods) or '-'}): {result.examples:,} examples, "
        f"{result.tokens:,} tokens",
        caption="Training cost low-high; serving is billed separately. Cheapest in green.",
    )
    table.add_column("#", justify="right")
    table.add_column("Option", overflow="fold")
    table.add_column("Expected", justify="right", no_wrap=True)
    table.add_column("Range", justify="right", no_wrap=True)
    table.add_column("Hours", justify="right")
    table.add_column("Serving", overflow="fold")
    table.add_column("Price date", no_wrap=True)
    for i, row in enumerate(result.rows, 1):
        style = "bold green" if i == 1 else ("yellow" if row.stale else None)
        table.add_row(
            str(i),
            escape(_option_label(row)),
            _money(row.training_usd.expected),
            f"{_money(row.training_usd.low)}-{_money(row.training_usd.high)}",
            _hours_text(row),
            escape(_serving_text(row)),
            row.as_of.isoformat() + ("*" if row.stale else ""),
            style=style,
        )
    console.print(table)
    if any(r.stale for r in result.rows):
        console.print("* price older than 120 days: check it (see Notes).")
    notes = list(dict.fromkeys(n for r in result.rows for n in r.notes))
    if notes:
        console.print("[bold]Notes[/]")
        for note in notes[:12]:
            console.print(f"  - {escape(note)}")
        if len(notes) > 12:
            console.print(f"  ... and {len(notes) - 12} more (see --json)")
    if result.skipped:
        console.print("[bold]Left out[/]")
        for s in result.skipped:
            where = s.provider + (f" {s.gpu}" if s.gpu else "")
            console.print(f"  - {escape(where)}: {escape(s.reason)}")


def _print_estimate(est: CostEstimate, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    head = (
        f"[bold]{escape(est.model)}[/] on [bold]{escape(_option_label(est))}[/] "
        f"({est.kind}, {est.method}, {est.epochs} epoch(s), {est.examples:,} examples)"
    )
    console.print(head)
    console.print(
        f"Training: [bold green]{_money(est.training_usd.expected)}[/] expected, range "
        f"{_money(est.training_usd.low)}-{_money(est.training_usd.high)}"
        + (f"; {est.hours.low:.2f}-{est.hours.high:.2f} h" if est.hours else "")
    )
    console.print(f"Serving: {escape(_serving_text(est))}")
    table = Table(title="Itemized (expected)")
    table.add_column("Item")
    table.add_column("Quantity", justify="right")
    table.add_column("Unit price", justify="right")
    table.add_column("Amount", justify="right")
    table.add_column("As of")
    for line in est.lines:
        qty = float(line.quantity)
        qty_text = f"{qty:,.0f}" if qty >= 100 or qty == int(qty) else f"{qty:,.4g}"
        table.add_row(
            escape(line.label),
            f"{qty_text} {line.unit}",
            "-" if line.unit_price_usd is None else f"${line.unit_price_usd}",
            "-" if line.amount_usd is None else _money(line.amount_usd),
            "-" if line.as_of is None else line.as_of.isoformat(),
        )
    console.print(table)
    console.print("[bold]Assumptions[/]")
    for text in est.assumptions:
        console.print(f"  - {escape(text)}")
    if est.notes:
        console.print("[bold]Notes[/]")
        for text in est.notes:
            console.print(f"  - {escape(text)}")


def plot_comparison(result: Comparison, path: Path) -> Path:
    """Draw low/expected/high per option as horizontal bars (cheapest on top) into ``path``.

    Raises:
        UnsupportedFeatureError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from tuneport._exceptions import UnsupportedFeatureError

        raise UnsupportedFeatureError(
            "--plot needs matplotlib: pip install 'tuneport[plot]'"
        ) from exc
    rows = list(result.rows)
    labels = [f"{_option_label(r)}, prices {r.as_of.isoformat()}" for r in rows]
    expected = [float(r.training_usd.expected) for r in rows]
    low_err = [e - float(r.training_usd.low) for e, r in zip(expected, rows, strict=True)]
    high_err = [float(r.training_usd.high) - e for e, r in zip(expected, rows, strict=True)]
    colors = ["#2a9d8f" if r.kind == "hosted" else "#457b9d" for r in rows]
    if rows:
        colors[0] = "#e76f51"
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.38 * len(rows) + 1.5)))
    ypos = list(range(len(rows)))
    ax.barh(ypos, expected, xerr=[low_err, high_err], color=colors, capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "#333333"})
    ax.set_yticks(ypos, labels=labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Training cost, USD (bar: expected; whiskers: low to high)")
    ax.set_title(
        f"{result.model}: {result.examples:,} examples, {result.tokens:,} tokens\n"
        "cheapest in orange, hosted in green, rented GPUs in blue",
        fontsize=10,
    )
    for y, value, up in zip(ypos, expected, high_err, strict=True):
        ax.text(value + up, y, f"  {_money(value)}", va="center", fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def estimate_command(
    file: Path = typer.Argument(..., help="Training data (JSONL)."),
    provider: str = typer.Option(..., "--provider", "-p",
                                 help="openai, together, fireworks or local (rented GPUs)."),
    model: str = typer.Option(..., "--model", "-m",
                              help="Canonical name (llama-3.1-8b-instruct) or provider id."),
    method: str = typer.Option("lora", help="lora, full, qlora, dpo-lora or dpo-full."),
    epochs: str = typer.Option(None, help="Epochs: an integer or 'auto' (default: provider's)."),
    validation_fraction: float = typer.Option(0.0, min=0.0, max=0.99,
                                              help="Share of examples held out."),
    gpus: list[str] = typer.Option(None, "--gpus",
                                   help="For local: GPU specs, e.g. H100, A100-80GB:2, "
                                        "H100@runpod-secure (repeat or comma-separate)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Estimate what one fine-tune costs on one provider: a dated range with its assumptions."""
    from rich.console import Console

    from tuneport._exceptions import TuneportError
    from tuneport.cost import estimate

    n_epochs = _parse_epochs(epochs)
    try:
        est = estimate(
            file, provider=provider, model=model, method=method, epochs=n_epochs,
            validation_fraction=validation_fraction, gpus=_split(gpus),
        )
    except TuneportError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps(est.to_dict()))
        return
    _print_estimate(est, Console())


def compare_command(
    file: Path = typer.Argument(..., help="Training data (JSONL)."),
    model: str = typer.Option(..., "--model", "-m",
                              help="Canonical name (llama-3.1-8b-instruct) or any provider id."),
    method: str = typer.Option("lora", help="lora, full, qlora, dpo-lora or dpo-full."),
    epochs: str = typer.Option(None, help="Epochs: an integer or 'auto' (default: each "
                                          "provider's)."),
    providers: list[str] = typer.Option(None, "--providers",
                                        help="Only these (openai, together, fireworks, local)."),
    gpus: list[str] = typer.Option(None, "--gpus",
                                   help="GPU specs for self-hosted rows, e.g. H100, A100-80GB:2 "
                                        "(default: every GPU in the catalog)."),
    validation_fraction: float = typer.Option(0.0, min=0.0, max=0.99,
                                              help="Share of examples held out."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    plot: Path = typer.Option(None, "--plot", help="Also draw a bar chart into this PNG."),
) -> None:
    """Compare hosted providers and rented GPUs for one model, cheapest first."""
    from rich.console import Console

    from tuneport._exceptions import TuneportError
    from tuneport.cost import compare

    n_epochs = _parse_epochs(epochs)
    try:
        result = compare(
            file, model=model, method=method, epochs=n_epochs, providers=_split(providers),
            gpus=_split(gpus), validation_fraction=validation_fraction,
        )
        if plot is not None:
            plot_comparison(result, plot)
    except TuneportError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    console = Console()
    _print_comparison(result, console)
    if plot is not None:
        console.print(f"Chart written to {plot}")
