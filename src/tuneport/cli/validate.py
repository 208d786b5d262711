"""``tuneport validate``: check a dataset for every target and count its tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from tuneport.dataset import ValidationReport

__all__ = ["register"]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
_SHOWN_ISSUES = 25


def _echo(text: str, err: bool = False) -> None:
    """Print ``text`` as valid UTF-8 whatever it holds (a file name with undecodable bytes
    arrives as lone surrogates, which would otherwise crash the print)."""
    typer.echo(text.encode("utf-8", "backslashreplace").decode("utf-8"), err=err)


def _usage_error(exc: Exception, as_json: bool) -> None:
    from tuneport.cli._errors import error_payload, one_line

    if as_json:
        # "ok" beside the documented error shape: a script reads the same key either way.
        payload: dict[str, Any] = {"ok": False, **error_payload(exc)}
        _echo(json.dumps(payload))
    else:
        _echo(f"Error: {one_line(str(exc))}", err=True)
    raise typer.Exit(EXIT_USAGE)


def validate_command(
    # Optional and range-free here, checked below: click's own usage errors are plain text,
    # and with --json even a missing FILE must answer in JSON.
    file: Path | None = typer.Argument(None, help="A .jsonl or .jsonl.gz dataset.",
                                       show_default=False),
    target: list[str] = typer.Option(
        [], "--target", "-t",
        help="openai, together, fireworks or local; repeat for several (default: all four).",
    ),
    model: str | None = typer.Option(
        None, "--model", "-m",
        help="Model name from the catalog (sets the tokenizer and the per-example limit); for "
        "local also a Hugging Face id, a model folder or a GGUF file.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    max_issues: int = typer.Option(
        20, "--max-issues", help="Problems kept per code, at least 1 (counts stay exact)."
    ),
) -> None:
    """Validate FILE for each target: every problem with its line, and token counts.

    Exit status: 0 no errors, 1 the data has errors, 2 tuneport could not do what was asked
    (no such file, unknown target or model...). With --json, stdout holds one JSON object
    in every case.
    """
    from tuneport._exceptions import TuneportError
    from tuneport.dataset import TARGETS, Dataset

    targets = tuple(target) or TARGETS
    if file is None:
        _usage_error(TuneportError("Give the dataset to validate: tuneport validate FILE."),
                     as_json)
        raise AssertionError  # unreachable: _usage_error exits
    if max_issues < 1:
        _usage_error(TuneportError(f"--max-issues must be at least 1, not {max_issues}."),
                     as_json)
    try:
        ds = Dataset.from_jsonl(file)
        report = ds.validate(targets, model, max_issues_per_code=max_issues)
    except TuneportError as exc:
        _usage_error(exc, as_json)
        raise  # unreachable: _usage_error exits
    except (Exception, RecursionError, MemoryError) as exc:
        # Reading raises nothing but TuneportError; should a bug break that promise, the
        # caller still gets exit 2 and (with --json) JSON on stdout, never a traceback.
        _usage_error(TuneportError(
            f"internal error while validating ({type(exc).__name__}: {exc}); please report "
            "it."), as_json)
        raise
    if as_json:
        _echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_human(report, file)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_ERRORS)


def _tokens_table(report: ValidationReport, left_out: frozenset[str]) -> Table:
    """Tokens per target; numbers and tokenizer names are never cut, only wrapped whole."""
    from rich import box
    from rich.table import Table

    table = Table(title="Tokens per target", title_justify="left", box=box.SIMPLE_HEAD)
    columns = [c for c in ("target", "tokenizer", "total", "max", "mean", "over limit",
                           "billed (epochs)", "errors") if c not in left_out]
    rows: list[list[str]] = []
    for t in report.targets:
        errors = report.errors_by_target.get(t, 0)
        cells = {"target": t, "errors": f"[red]{errors}[/red]" if errors else "[green]0[/green]"}
        s = report.tokens.get(t)
        if s is not None:
            # A range goes on its own line under the estimate: one line would not fit.
            cells["total"] = (f"{s.total:,}" if s.exact
                              else f"~{s.total:,}\n({s.total_low:,}-{s.total_high:,})")
            cells["tokenizer"] = s.tokenizer + ("" if s.exact else "\n(estimate)")
            cells.update({"max": f"{s.max:,}", "mean": f"{s.mean:,.1f}",
                          "over limit": str(s.over_limit),
                          "billed (epochs)": f"{s.billed_estimate.tokens:,}\n"
                                             f"({s.billed_estimate.epochs})"})
        rows.append([cells.get(c, "-") for c in columns])
    for i, col in enumerate(columns):
        text = col in ("target", "tokenizer")
        # The widest line of a number (or word of a name) is the least the column may have,
        # so a measure of the table says truly whether it fits without cutting anything.
        pieces = [p for row in rows for line in row[i].split("\n") for p in
                  (line.split() if text else [line])] + col.split()
        widest = max(len(_plain(p)) for p in pieces)
        table.add_column(col.replace(" ", "\n"), justify="left" if text else "right",
                         overflow="fold", no_wrap=not text,
                         min_width=min(widest, 12) if text else widest)
    for row in rows:
        table.add_row(*row)
    return table


def _plain(cell: str) -> str:
    from rich.text import Text

    return Text.from_markup(cell).plain


def _print_human(report: ValidationReport, file: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from tuneport.dataset import CODES

    console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    verdict = "[green]OK[/green]" if report.ok else "[red]errors found[/red]"
    shown = str(file).encode("utf-8", "backslashreplace").decode("utf-8")
    console.print(f"[bold]{escape(shown)}[/bold]: {report.examples} examples, format "
                  f"[bold]{report.format}[/bold], {report.lines} lines - {verdict}")

    from tuneport.cli._tables import fitted_table

    tokens, dropped = fitted_table(console, lambda left_out: _tokens_table(report, left_out),
                                   droppable=("mean", "max", "over limit", "tokenizer",
                                              "billed (epochs)"))
    console.print(tokens)
    if dropped:
        console.print(f"  ({', '.join(dropped)} left out to fit the terminal; --json has "
                      "every column)")

    if report.issue_counts:
        codes = Table(title="Problems by code", title_justify="left")
        for col in ("code", "severity", "count", "meaning"):
            codes.add_column(col, justify="right" if col == "count" else "left")
        for code, n in sorted(report.issue_counts.items(), key=lambda kv: (-kv[1], kv[0])):
            info = CODES.get(code)
            sev = info.severity if info else "?"
            style = "red" if sev == "error" else "yellow"
            codes.add_row(code, f"[{style}]{sev}[/{style}]", f"{n:,}",
                          info.summary if info else "")
        console.print(codes)
        console.print("[bold]First problems[/bold]")
        for issue in report.issues[:_SHOWN_ISSUES]:
            style = "red" if issue.severity == "error" else "yellow"
            where = f"line {issue.line}" if issue.line else "file"
            console.print(f"  {where}: [{style}]{issue.code}[/{style}] "
                          f"({', '.join(issue.targets)}) {escape(issue.message)}")
        hidden = sum(report.issue_counts.values()) - min(len(report.issues), _SHOWN_ISSUES)
        if hidden > 0:
            console.print(f"  ... and {hidden:,} more (use --json for the kept list; "
                          "docs/validation-codes.md explains each code)")


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the ``tuneport`` command line."""
    app.command("validate")(validate_command)
