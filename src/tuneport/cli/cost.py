"""``tuneport estimate`` and ``tuneport compare``: what a fine-tune costs, before spending."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

if TYPE_CHECKING:
    from decimal import Decimal

    from rich.console import Console
    from rich.table import Table

    from tuneport.cost import Comparison, CostEstimate

__all__ = ["print_comparison", "print_estimate", "register"]


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
    from tuneport.cli._errors import fail

    return fail(exc, as_json)


def invalid_data_warning(file: Path, targets: list[str], model: str) -> str | None:
    """A warning when ``file`` has validation errors for ``targets``, else ``None``.

    The cost figures count what can be read, so they describe the dataset as it will be
    once fixed; the user must not read them as the price of the data as it stands (a
    provider refuses the file, or bills the corrected one).
    """
    from tuneport._exceptions import TuneportError
    from tuneport.dataset import Dataset

    try:
        report = Dataset.from_jsonl(file).validate(targets, model=model, count_tokens=False,
                                                   max_issues_per_code=1)
    except (TuneportError, OSError):
        return None  # the estimate itself reports what is wrong with the file or names
    failing = {t: n for t, n in report.errors_by_target.items() if n}
    if not failing:
        return None
    first = next((i for i in report.issues if i.severity == "error"), None)
    where = f" (first: line {first.line}, {first.code})" if first is not None else ""
    counts = ", ".join(f"{n} for {t}" for t, n in sorted(failing.items()))
    return (f"{file} has validation errors ({counts}){where}. These figures assume the "
            f"errors are fixed; see them all with `tuneport validate {file}`.")


def _warn(message: str | None) -> None:
    if message:
        # stderr, so --json output on stdout stays one JSON object.
        typer.echo(f"Warning: {message}", err=True)


def _serving_text(row: CostEstimate) -> str:
    s = row.serving
    if s is None:
        return "-"
    from tuneport.cost._money import usd_text

    if s.kind == "per_1m_tokens":
        return (f"{usd_text(s.input_usd_per_1m or 0)} in / {usd_text(s.output_usd_per_1m or 0)} "
                "out per 1M tokens")
    gpus = f"{s.gpus}x {s.gpu}" if s.gpus and s.gpus > 1 else str(s.gpu)
    return f"{usd_text(s.usd_per_hour or 0)}/hour ({gpus})"


def _range_text(row: CostEstimate) -> str:
    from tuneport.cost._money import usd_range_text

    return usd_range_text(row.training_usd.low, row.training_usd.high)


def _hours_text(row: CostEstimate, wide: bool) -> str:
    if row.hours is None:
        return "-"
    if wide:
        return f"{row.hours.low:.2f}-{row.hours.high:.2f}"
    return f"{row.hours.expected:.2f}"


def _bullets(console: Console, title: str, items: list[str]) -> None:
    """A titled list whose wrapped lines stay indented under their bullet."""
    from rich.markup import escape
    from rich.table import Table

    if not items:
        return
    console.print(f"[bold]{title}[/]")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for item in items:
        grid.add_row(" -", escape(item))
    console.print(grid)


def _comparison_notes(result: Comparison) -> list[str]:
    """Every row's notes, once each: repeated notes name their rows, stale prices and
    whole-instance billing are summed up in one line each."""
    from tuneport.catalog import STALE_AFTER_DAYS
    from tuneport.cost._estimate_parts import instance_note, stale_note
    from tuneport.cost._plot import option_label

    stale: dict[str, list[str]] = {}
    instances: dict[tuple[int, int], list[str]] = {}
    rows_of: dict[str, list[int]] = {}
    for number, row in enumerate(result.rows, 1):
        grouped = set()
        for label, age in row.stale_prices.items():
            as_of = row.prices_as_of[label]
            grouped.add(stale_note(label, as_of, age))
            stale.setdefault(f"{as_of.isoformat()} ({age} days)", []).append(label)
        if row.gpus_needed is not None and row.gpus != row.gpus_needed:
            cloud, gpu, gpus = str(row.cloud), str(row.gpu), int(row.gpus or 0)
            grouped.add(instance_note(cloud, gpu, gpus, row.gpus_needed))
            instances.setdefault((gpus, row.gpus_needed), []).append(f"{gpu} @ {cloud}")
        for note in row.notes:
            if note not in grouped:
                rows_of.setdefault(note, []).append(number)
    lines = []
    for note, numbers in rows_of.items():
        if len(numbers) == len(result.rows) > 1:
            lines.append(note)
        elif len(numbers) == 1:
            lines.append(f"{option_label(result.rows[numbers[0] - 1])}: {note}")
        else:
            lines.append(f"rows {', '.join(map(str, numbers))}: {note}")
    for (billed, needed), options in instances.items():
        lines.append(
            f"Rented only as whole {billed}-GPU instances, so {billed} GPUs are billed though "
            f"{needed} would do: {', '.join(options)}."
        )
    if stale:
        dated = "; ".join(f"{', '.join(dict.fromkeys(labels))} from {when}"
                          for when, labels in stale.items())
        lines.append(
            f"* Prices over {STALE_AFTER_DAYS} days old: {dated}. Check them and override in "
            "TUNEPORT_CATALOG_DIR (see docs/catalogs.md)."
        )
    return lines


def print_comparison(result: Comparison, console: Console) -> None:
    """The ``tuneport compare`` table: cheapest first in green, price dates, grouped notes.

    From 110 columns on it also shows hour ranges and serving prices; narrower terminals get
    the serving prices as notes under the table. Amounts and dates are never cut: on a very
    narrow terminal whole columns are left out instead (and named).
    """
    from tuneport.cli._tables import fitted_table

    wide = console.width >= 110
    table, dropped = fitted_table(
        console, lambda left_out: _comparison_table(result, wide, left_out),
        droppable=("Hours", "Prices", "Low-high"))
    console.print(table)
    notes = _comparison_notes(result)
    if dropped:
        notes.append(f"{', '.join(dropped)} left out to fit the terminal; --json has every "
                     "column.")
    if not wide:
        # No serving column: name what the notes do not (per-token prices, rented GPUs).
        per_token = [f"{r.provider} {_serving_text(r)}" for r in result.rows
                     if r.serving is not None and r.serving.kind == "per_1m_tokens"]
        if any(r.kind == "self-hosted" for r in result.rows):
            per_token.append("rented GPUs bill their hourly rate while the machine is up")
        if per_token:
            notes.insert(0, "Serving is billed separately: " + "; ".join(per_token) + ".")
    _bullets(console, "Notes", notes)
    _bullets(console, "Left out", [
        f"{s.provider}{' ' + s.gpu if s.gpu else ''}: {s.reason}" for s in result.skipped
    ])



def _comparison_table(result: Comparison, wide: bool, left_out: frozenset[str]) -> Table:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from tuneport.cost._money import usd_text
    from tuneport.cost._plot import option_label

    methods = ", ".join(sorted({r.method for r in result.rows})) or "-"
    epochs = sorted({r.epochs for r in result.rows})
    epoch_text = f"{epochs[0]} epoch(s)" if len(epochs) == 1 else "each provider's epochs"
    table = Table(
        title=f"{escape(result.model)} {methods}: {result.examples:,} examples, "
        f"{result.tokens:,} tokens, {epoch_text}",
        caption="Training cost, cheapest first (green). Serving is billed separately."
        + (" * price over 120 days old." if any(r.stale for r in result.rows) else ""),
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    rows: list[dict[str, str]] = []
    for number, row in enumerate(result.rows, 1):
        minimum = row.minimum_note
        rows.append({
            "#": str(number),
            # The per-job minimum is explained where its price stands, not in a footnote.
            "Option": escape(option_label(row))
            + (f"\n[dim]{escape(minimum)}[/]" if minimum else ""),
            "Expected": usd_text(row.training_usd.expected),
            "Low-high": _range_text(row),
            "Hours": _hours_text(row, wide),
            "Serving": escape(_serving_text(row)),
            "Prices": row.as_of.isoformat() + ("*" if row.stale else ""),
        })
    from tuneport.cli._tables import fill

    names = [n for n in ("#", "Option", "Expected", "Low-high", "Hours", "Serving", "Prices")
             if n not in left_out and (wide or n != "Serving")]
    return fill(table, names, rows, text=("Option", "Serving"), left=("Prices",),
                styles=["bold green" if i == 0 else None for i in range(len(rows))])


def _quantity_text(quantity: Decimal, unit: str) -> str:
    value = float(quantity)
    if value >= 1e7:
        text = f"{value:.3g}"
    elif value == int(value):
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.4g}"
    if value == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{text} {unit}"


def print_estimate(est: CostEstimate, console: Console) -> None:
    """The ``tuneport estimate`` report: the range, itemized lines, assumptions, notes."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from tuneport.cost._money import unit_price_text, usd_text
    from tuneport.cost._plot import option_label

    epochs = f"{est.epochs} epoch" + ("" if est.epochs == 1 else "s")
    where = option_label(est) if est.kind == "self-hosted" else f"{est.provider} (hosted)"
    console.print(
        f"[bold]{escape(est.model)}[/] on [bold]{escape(where)}[/]: {est.method}, {epochs}, "
        f"{est.examples:,} examples"
    )
    hours = f"; {est.hours.low:.2f}-{est.hours.high:.2f} h" if est.hours else ""
    console.print(
        f"Training: [bold green]{usd_text(est.training_usd.expected)}[/] expected, "
        f"{_range_text(est)} low-high{hours}; prices as of {est.as_of.isoformat()}"
        + ("*" if est.stale else "")
    )
    console.print(f"Serving (billed separately): {escape(_serving_text(est))}")
    from tuneport.cli._tables import fill, fitted_table

    rows = [{
        "Item": escape(line.label),
        "Quantity": _quantity_text(line.quantity, line.unit),
        "Unit price": "-" if line.unit_price_usd is None
        else unit_price_text(line.unit_price_usd, line.unit),
        "Amount": "-" if line.amount_usd is None else usd_text(line.amount_usd),
        "As of": "-" if line.as_of is None else line.as_of.isoformat(),
    } for line in est.lines]

    def itemized(left_out: frozenset[str]) -> Table:
        table = Table(title="Itemized (expected)", box=box.SIMPLE_HEAD, show_edge=False,
                      pad_edge=False, collapse_padding=True)
        names = [n for n in ("Item", "Quantity", "Unit price", "Amount", "As of")
                 if n not in left_out]
        return fill(table, names, rows, text=("Item",), left=("As of",))

    table, dropped = fitted_table(console, itemized, droppable=("As of", "Unit price"))
    console.print(table)
    if dropped:
        console.print(f"({', '.join(dropped)} left out to fit the terminal; --json has "
                      "every column)")
    _bullets(console, "Assumptions", list(est.assumptions))
    _bullets(console, "Notes", list(est.notes))


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
    _warn(invalid_data_warning(file, [provider], model))
    if as_json:
        typer.echo(json.dumps(est.to_dict()))
        return
    print_estimate(est, Console())


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
    from tuneport.cost import compare, plot_comparison

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
    except OSError as exc:
        raise _fail(TuneportError(f"Cannot write the chart to {plot}: {exc.strerror or exc}."),
                    as_json) from None
    targets = sorted({r.provider for r in result.rows if r.kind == "hosted"}
                     | ({"local"} if any(r.kind != "hosted" for r in result.rows) else set()))
    _warn(invalid_data_warning(file, targets, model))
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    console = Console()
    print_comparison(result, console)
    if plot is not None:
        console.print(f"Chart written to {plot}")
