"""``tuneport eval``: base vs fine-tuned on held-out data, from the command line.

::

    tuneport eval JOB HELDOUT.jsonl [--baseline base|MODEL|URL#MODEL] [--metric NAME]...
        [--judge URL#MODEL] [--regression FILE] [--max-examples N] [--html FILE] [--json]

The cost estimate and the progress go to stderr (a bar on a terminal, a line every 10 s in
a log); the result goes to stdout: a table, or with ``--json`` exactly one JSON object.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

__all__ = ["eval_command", "register"]

#: Where a key for a ``URL#MODEL`` baseline or judge comes from (never a flag: flags end up
#: in shell history and process lists).
KEY_ENV = "TUNEPORT_EVAL_API_KEY"


def eval_command(
    job: str = typer.Argument(..., help="The fine-tuned model: provider:id, an id the ledger "
                              "knows, or an OpenAI-compatible URL#MODEL."),
    heldout: Path = typer.Argument(..., help="Held-out examples (JSONL), each ending with the "
                                   "expected assistant reply."),
    baseline: str = typer.Option(
        "base", "--baseline", help="base (the job's base model served the same way), a model "
        "id at the same API, or URL#MODEL."),
    metric: list[str] = typer.Option(
        [], "--metric", help="A metric, repeatable: exact_match contains token_f1 rouge_l chrf "
        "json_valid json_schema[:FILE] regex:PATTERN tool_call_match judge (default: from "
        "the data)."),
    judge: str = typer.Option(None, "--judge", help="A pairwise judge model: URL#MODEL "
                              f"(key from {KEY_ENV} if it needs one)."),
    regression: Path = typer.Option(
        None, "--regression", help="A general-capability set run through both models to "
        "catch forgetting (examples/data/general.jsonl)."),
    max_examples: int = typer.Option(None, "--max-examples", min=1,
                                     help="Evaluate only the first N examples."),
    html: Path = typer.Option(None, "--html", help="Also write the report as one "
                              "self-contained HTML page."),
    concurrency: int = typer.Option(8, "--concurrency", min=1,
                                    help="Requests in flight at once."),
    seed: int = typer.Option(0, "--seed", help="The bootstrap's seed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Evaluate a fine-tuned model against its baseline on held-out data."""
    from tuneport._exceptions import TuneportError
    from tuneport.cli._errors import fail

    try:
        report = _run(job, heldout, baseline=baseline, metrics=metric, judge=judge,
                      regression=regression, max_examples=max_examples,
                      concurrency=concurrency, seed=seed)
    except TuneportError as exc:
        raise fail(exc, as_json) from None
    except KeyboardInterrupt:
        typer.echo("Interrupted; the replies received so far are cached, so running the same "
                   "command again continues from there.", err=True)
        raise typer.Exit(130) from None
    written = report.to_html(html) if html is not None else None
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, allow_nan=False))
    else:
        typer.echo(report.summary(regressions_shown=3))
    if written is not None:
        typer.echo(f"HTML report: {written}", err=as_json)


def _run(job: str, heldout: Path, *, baseline: str, metrics: list[str], judge: str | None,
         regression: Path | None, max_examples: int | None, concurrency: int,
         seed: int) -> Any:
    from pydantic import SecretStr

    from tuneport._exceptions import DatasetError
    from tuneport._models import EndpointState, ModelEndpoint
    from tuneport.client.client import Client
    from tuneport.evaluate import Judge, ProgressPrinter, parse_model_url

    for path in (heldout, regression):
        if path is not None and not path.is_file():
            raise DatasetError(f"{path}: no such file.")
    key = os.environ.get(KEY_ENV)
    secret = SecretStr(key) if key else None
    def endpoint(value: str) -> ModelEndpoint:
        url, model = parse_model_url(value)
        return ModelEndpoint(provider="custom", model=model, base_url=url, kind="serverless",
                             state=EndpointState.READY, api_key=secret)

    tuned: Any = endpoint(job) if "#" in job else job
    base: Any = endpoint(baseline) if "#" in baseline else baseline
    the_judge = None
    if judge is not None:
        url, model = parse_model_url(judge)
        the_judge = Judge(base_url=url, model=model, api_key=secret)
    with Client() as client:
        return client.evaluate(
            tuned, heldout, baseline=base, metrics=metrics or None, judge=the_judge,
            regression=regression, max_examples=max_examples, concurrency=concurrency,
            seed=seed, on_progress=ProgressPrinter())


def register(app: typer.Typer) -> None:
    """Add ``tuneport eval`` to ``app``."""
    app.command("eval")(eval_command)
