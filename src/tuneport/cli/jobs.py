"""CLI commands that submit and follow jobs: submit, status, wait, jobs, events, cancel, endpoint.

Every command takes a job as ``provider:id`` or a bare id the ledger knows. ``--json``
prints exactly one JSON object on stdout; human output goes through rich. Errors print
one clear line on stderr and exit non-zero, never a traceback or a secret.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from tuneport._models import Job, JobEvent, ModelEndpoint
    from tuneport.client.client import Client

__all__ = ["register"]

# Exit codes: 1 the request failed, 2 bad usage/configuration, 3 the job failed or was
# cancelled, 4 waiting timed out (the job goes on), 130 interrupted.
EXIT_ERROR, EXIT_CONFIG, EXIT_JOB_FAILED, EXIT_TIMEOUT, EXIT_INTERRUPTED = 1, 2, 3, 4, 130

_STATUS_STYLE = {
    "succeeded": "bold green",
    "failed": "bold red",
    "cancelled": "yellow",
    "deleted": "yellow",
    "running": "cyan",
    "queued": "blue",
    "validating": "blue",
    "cancelling": "yellow",
    "paused": "magenta",
    "unknown": "dim",
}


def register(app: typer.Typer) -> None:
    """Add the job commands to the ``tuneport`` app."""
    app.command("submit")(submit_command)
    app.command("status")(status_command)
    app.command("wait")(wait_command)
    app.command("jobs")(jobs_command)
    app.command("events")(events_command)
    app.command("cancel")(cancel_command)
    app.command("endpoint")(endpoint_command)


# -- shared helpers ---------------------------------------------------------------------


def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _out() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, default=str, sort_keys=False))


@contextmanager
def _handled(as_json: bool = False) -> Iterator[None]:
    """Turn tuneport's errors into one line on stderr (or a JSON error) and an exit code."""
    from tuneport._exceptions import JobFailedError, JobTimeoutError, TuneportError
    from tuneport.cli._errors import error_payload, exit_code, fail

    try:
        with warnings.catch_warnings():
            # A warning (OpenAI's wind-down dates ...) is one line for the user, not a
            # Python warning with a source path.
            warnings.showwarning = _show_warning
            from tuneport.client.preparing import ProviderAvailabilityWarning

            warnings.filterwarnings("default", category=ProviderAvailabilityWarning)
            from tuneport.client.deployments import EndpointOverdueWarning

            # One line per overdue deployment, every time: each one bills by the hour.
            warnings.filterwarnings("always", category=EndpointOverdueWarning)
            yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _err().print("Interrupted. A submitted job goes on at the provider; "
                      "`tuneport status JOB` shows it.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (JobFailedError, JobTimeoutError) as exc:
        if as_json:
            _emit({**error_payload(exc), "job": exc.job.summary()})
            raise typer.Exit(exit_code(exc)) from None
        raise fail(exc, as_json) from None
    except TuneportError as exc:
        raise fail(exc, as_json) from None


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    from rich.markup import escape

    _err().print(f"[yellow]Warning:[/] {escape(str(message))}")


def _client(provider: str | None) -> Client:
    from tuneport.client.client import Client

    return Client(provider=provider)


def _styled(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _print_job(console: Console, job: Job) -> None:
    from rich.markup import escape

    table = _fields_table()
    table.add_row("Job", escape(f"{job.provider}:{job.id}"))
    table.add_row("Status", f"{_styled(job.status.value)} ({escape(job.provider_status)})")
    rows: list[tuple[str, Any]] = [
        ("Base model", job.base_model),
        ("Fine-tuned model", job.fine_tuned_model),
        ("Created", _when(job.created_at)),
        ("Started", _when(job.started_at)),
        ("Finished", _when(job.finished_at)),
        ("Estimated finish", _when(job.estimated_finish)),
        ("Trained tokens", job.trained_tokens),
        ("Progress", f"{job.progress:.0%}" if job.progress is not None else None),
        ("Estimated cost", f"${job.estimated_cost_usd}" if job.estimated_cost_usd else None),
        ("Actual cost", f"${job.actual_cost_usd}" if job.actual_cost_usd else None),
        ("Idempotency key", job.idempotency_key),
    ]
    for label, value in rows:
        if value is not None:
            table.add_row(label, escape(str(value)))
    if job.error is not None:
        code = f"{job.error.code}: " if job.error.code else ""
        table.add_row("Error", f"[red]{escape(code + job.error.message)}[/]")
    console.print(table)


def _fields_table() -> Table:
    """A label/value grid whose values wrap whole (ids are meant to be copied)."""
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    offset = moment.utcoffset()
    suffix = " UTC" if offset is not None and not offset else ""
    return f"{moment:%Y-%m-%d %H:%M:%S}{suffix}"


def _event_level(event: JobEvent) -> str:
    return {"warning": "[yellow]warn[/]", "error": "[red]error[/]"}.get(event.level, "info")


def _follow(client: Client, job: Job | str, *, timeout: float | None, poll: float | None,
            quiet: bool) -> Job:
    """``client.wait`` with a status line: job, status, elapsed time, latest event.

    On a terminal the line updates in place (the clock ticks between polls); in a log
    (CI, a pipe) a line is printed whenever the status or the latest event changes, and
    at least every 10 seconds in between (polls back off to a minute apart).
    """
    if quiet:
        return client.wait(job, timeout=timeout, poll=poll)
    console = _err()
    line = _StatusLine(client)
    if not console.is_terminal:
        from tuneport.cli._progress import Heartbeat

        printed = {"key": ""}

        def folded() -> Text:
            text = line.__rich__()
            text.no_wrap, text.overflow = False, "fold"
            return text

        with Heartbeat(console, folded) as beat:

            def log(current: Job) -> None:
                line.seen(current)
                if line.key != printed["key"]:
                    printed["key"] = line.key
                    beat.print(folded())

            return client.wait(job, timeout=timeout, poll=poll, on_update=log)

    from rich.live import Live

    with Live(line, console=console, refresh_per_second=4):
        return client.wait(job, timeout=timeout, poll=poll, on_update=line.seen)


class _StatusLine:
    """One line: ``provider:id  status  m:ss  latest event``, redrawn by rich.Live."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.start = time.monotonic()
        self.job: Job | None = None
        self.event = ""

    @property
    def key(self) -> str:
        return f"{self.job.status.value if self.job else ''} {self.event}"

    def seen(self, current: Job) -> None:
        self.job = current
        try:
            events = self.client.events(current)
        except Exception:  # the status line is a nicety; never let it end the wait
            events = []
        if events:
            self.event = " ".join(events[-1].message.split())

    def __rich__(self) -> Text:
        from rich.markup import escape
        from rich.text import Text

        elapsed = int(time.monotonic() - self.start)
        clock = f"{elapsed // 60:d}:{elapsed % 60:02d}"
        if self.job is None:
            return Text(f"waiting ...  {clock}", no_wrap=True, overflow="ellipsis")
        ref = escape(f"{self.job.provider}:{self.job.id}")
        text = Text.from_markup(
            f"{ref}  {_styled(self.job.status.value)}  {clock}  {escape(self.event)}",
            overflow="ellipsis",
        )
        text.no_wrap = True
        return text


def _endpoint_dict(endpoint: ModelEndpoint) -> dict[str, Any]:
    return endpoint.model_dump(mode="json")


# -- commands -----------------------------------------------------------------------------


def submit_command(
    file: Path = typer.Argument(..., help="The dataset (JSONL).", exists=False),
    provider: str = typer.Option(None, "--provider", "-p",
                                 help="openai, together, fireworks, local (default: config)."),
    model: str = typer.Option(..., "--model", "-m",
                              help="Canonical name (llama-3.1-8b-instruct) or provider id."),
    method: str = typer.Option("lora", help="lora, full, qlora, dpo-lora or dpo-full."),
    epochs: int = typer.Option(None, help="Training epochs (default: the provider's)."),
    learning_rate: float = typer.Option(None, "--learning-rate", help="Learning rate."),
    batch_size: int = typer.Option(None, "--batch-size", help="Batch size."),
    lora_rank: int = typer.Option(None, "--lora-rank", help="LoRA rank."),
    beta: float = typer.Option(None, "--beta", help="DPO beta (dpo-lora / dpo-full only)."),
    suffix: str = typer.Option(None, help="Suffix for the fine-tuned model's name."),
    validation: Path = typer.Option(None, help="A validation dataset (JSONL)."),
    idempotency_key: str = typer.Option(
        None, "--idempotency-key", help="Your own key; the same key never makes two jobs."),
    new: bool = typer.Option(False, "--new", help="Submit again even if an identical job exists."),
    allow_overlap: bool = typer.Option(
        False, "--allow-overlap", help="Train even on examples held out for evaluation."),
    wandb_project: str = typer.Option(
        None, "--wandb-project",
        help="Log to this Weights & Biases project (key from WANDB_API_KEY)."),
    wandb_entity: str = typer.Option(None, "--wandb-entity", help="W&B team or user."),
    wandb_name: str = typer.Option(None, "--wandb-name", help="W&B run name."),
    wait: bool = typer.Option(False, "--wait", help="Follow the job until it ends."),
    timeout: float = typer.Option(None, help="With --wait: give up after this many seconds."),
    poll: float = typer.Option(None, help="With --wait: first poll interval in seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Validate FILE, upload it once, and start a fine-tuning job.

    Submitting the same data with the same options again returns the same job.
    """
    console = _err()
    with _handled(as_json):
        wandb = None
        if wandb_project:
            from tuneport._models import WandbConfig

            wandb = WandbConfig(project=wandb_project, entity=wandb_entity, name=wandb_name)
        elif wandb_entity or wandb_name:
            from tuneport._exceptions import ConfigError

            raise ConfigError("--wandb-entity/--wandb-name need --wandb-project.")
        client = _client(provider)
        with client:
            from tuneport.cli._upload_display import showing_uploads

            progress = None if as_json else _submit_progress(console)
            with showing_uploads(console, enabled=not as_json):
                job = client.fine_tune(
                    file, model=model, method=method, epochs=epochs,
                    learning_rate=learning_rate, batch_size=batch_size, lora_rank=lora_rank,
                    beta=beta, suffix=suffix, validation=validation,
                    idempotency_key=idempotency_key,
                    new=new, wandb=wandb, on_progress=progress, allow_overlap=allow_overlap,
                )
            if wait:
                job = _follow(client, job, timeout=timeout, poll=poll, quiet=as_json)
        if as_json:
            _emit(job.summary())
            return
        _print_job(_out(), job)
        if not job.is_terminal:
            _out().print(f"Follow it with: tuneport wait {job.provider}:{job.id}")


def _submit_progress(console: Console) -> Callable[[str, dict[str, Any]], None]:
    from rich.markup import escape

    def show(stage: str, info: dict[str, Any]) -> None:
        if stage == "validated":
            console.print(f"[green]✓[/] dataset valid for {escape(info['provider'])} "
                          f"({escape(info['model'])})")
        elif stage == "uploading":
            console.print(f"  uploading {_size(info['bytes'])} ...")
        elif stage == "uploaded":
            console.print(f"[green]✓[/] uploaded {_size(info['bytes'])} "
                          f"as {escape(info['file_id'])}")
        elif stage == "upload_reused":
            console.print(f"[green]✓[/] already uploaded as {escape(info['file_id'])} "
                          "(same content; not sent again)")
        elif stage == "created":
            console.print(f"[green]✓[/] job {escape(info['job_id'])} created")
        elif stage == "adopted":
            console.print(f"[green]✓[/] found job {escape(info['job_id'])} created by an "
                          "earlier attempt (not created twice)")
        elif stage == "existing":
            console.print(f"[green]✓[/] this exact job was submitted before: "
                          f"{escape(info['job_id'])} (use --new for another)")

    return show


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def status_command(
    job: str = typer.Argument(..., help="provider:id, or an id the ledger knows."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show a job's current state (asks the provider)."""
    with _handled(as_json), _client(None) as client:
        current = client.get_job(job)
        if as_json:
            _emit(current.summary())
        else:
            _print_job(_out(), current)


def wait_command(
    job: str = typer.Argument(..., help="provider:id, or an id the ledger knows."),
    timeout: float = typer.Option(None, help="Give up after this many seconds."),
    poll: float = typer.Option(None, help="First poll interval in seconds (backs off to 60)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Follow a job until it ends; exit 0 when it succeeded, 3 when it failed, 4 on timeout."""
    with _handled(as_json), _client(None) as client:
        done = _follow(client, job, timeout=timeout, poll=poll, quiet=as_json)
        if as_json:
            _emit(done.summary())
        else:
            _print_job(_out(), done)


def jobs_command(
    provider: str = typer.Option(None, "--provider", "-p", help="Only this provider's jobs."),
    refresh: bool = typer.Option(False, "--refresh", help="Ask the providers for fresh states."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """List the jobs in the ledger, newest first."""
    with _handled(as_json), _client(None) as client:
        found = client.jobs(provider, refresh=refresh)
        if as_json:
            _emit({"jobs": [j.summary() for j in found]})
            return
        if not found:
            _out().print("No jobs in the ledger yet. Submit one with `tuneport submit`.")
            return
        from rich.markup import escape
        from rich.table import Table

        console = _out()
        caption = None if refresh else "States as last seen; --refresh asks the providers."
        table = Table(caption=caption, caption_justify="left")
        # Ids and model names wrap whole rather than being cut: they are meant to be copied.
        table.add_column("Job", overflow="fold")
        table.add_column("Status", no_wrap=True)
        table.add_column("Model (fine-tuned, else base)", overflow="fold")
        table.add_column("Created", no_wrap=True)
        for j in found:
            table.add_row(
                escape(f"{j.provider}:{j.id}"), _styled(j.status.value),
                escape(j.fine_tuned_model or j.base_model or ""),
                f"{j.created_at:%Y-%m-%d %H:%M}" if j.created_at else "",
            )
        console.print(table)


def events_command(
    job: str = typer.Argument(..., help="provider:id, or an id the ledger knows."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show a job's events (status changes, log lines, metrics) in order."""
    with _handled(as_json), _client(None) as client:
        found = client.events(job)
        if as_json:
            _emit({"job": job, "events": [e.model_dump(mode="json") for e in found]})
            return
        from rich.markup import escape
        from rich.table import Table

        console = _out()
        if not found:
            console.print("No events yet.")
            return
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold")
        for event in found:
            table.add_row(f"{event.created_at:%Y-%m-%d %H:%M:%S}", _event_level(event),
                          escape(event.message))
        console.print(table)


def cancel_command(
    job: str = typer.Argument(..., help="provider:id, or an id the ledger knows."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Ask the provider to cancel a job."""
    with _handled(as_json), _client(None) as client:
        result = client.cancel(job)
        if as_json:
            _emit(result.summary())
        else:
            _print_job(_out(), result)


def endpoint_command(
    job: str = typer.Argument(..., help="provider:id, or an id the ledger knows."),
    deploy: bool = typer.Option(
        False, "--deploy", help="Create the dedicated deployment Together/Fireworks need."),
    wait: bool = typer.Option(False, "--wait", help="With --deploy: until it is ready."),
    timeout: float = typer.Option(None, help="With --wait: give up after this many seconds."),
    stop_after: str = typer.Option(
        None, "--stop-after", help="With --deploy: a deadline such as 2h or 90m; past it, "
        "endpoint commands warn and `tuneport endpoints --stop-expired` stops it."),
    stop: bool = typer.Option(
        False, "--stop", help="Stop the deployment (Together/Fireworks bill it by the hour)."),
    config: str = typer.Option(
        None, "--config", help="With --deploy on Together: the config (cr_...) when the base "
        "model has several."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show how to call a fine-tuned model (OpenAI-compatible base URL and model id)."""
    with _handled(as_json), _client(None) as client:
        from tuneport.cli.endpoints import check_endpoint_flags, deadline

        check_endpoint_flags(deploy=deploy, wait=wait, stop=stop, stop_after=stop_after)
        if stop:
            endpoint = client.undeploy(job)
        elif deploy:
            extra: dict[str, Any] = {"config": config} if config else {}
            endpoint = client.deploy(job, wait=wait, timeout=timeout,
                                     stop_after=deadline(stop_after), **extra)
        else:
            endpoint = client.endpoint(job)
        if as_json:
            _emit(_endpoint_dict(endpoint))
            return
        from rich.markup import escape

        table = _fields_table()
        table.add_row("Model", escape(endpoint.model))
        table.add_row("Base URL", escape(endpoint.base_url))
        table.add_row("Kind", endpoint.kind)
        table.add_row("State", _ENDPOINT_STYLE.get(endpoint.state.value, endpoint.state.value))
        if endpoint.hourly_usd is not None:
            table.add_row("Costs", f"${endpoint.hourly_usd}/hour while deployed")
        if endpoint.accrued_usd is not None and endpoint.state.value != "not_deployed":
            table.add_row("So far", f"${endpoint.accrued_usd}")
        if endpoint.stop_at is not None and endpoint.state.value != "not_deployed":
            table.add_row("Stop after", f"{endpoint.stop_at:%Y-%m-%d %H:%M} UTC")
        for note in endpoint.notes:
            table.add_row("Note", escape(note))
        console = _out()
        console.print(table)
        ref = escape(job)
        if endpoint.state.value == "not_deployed":
            console.print(f"Deploy it with: tuneport endpoint {ref} --deploy [--wait]")
        elif endpoint.state.value == "deploying":
            console.print(f"Check again with: tuneport endpoint {ref}  (or add --deploy --wait)")
        if endpoint.kind == "dedicated" and endpoint.state.value != "not_deployed":
            console.print(f"Stop it (it bills by the hour): tuneport endpoint {ref} --stop")


_ENDPOINT_STYLE = {
    "ready": "[bold green]ready[/]",
    "deploying": "[cyan]deploying[/]",
    "failed": "[bold red]failed[/]",
    "not_deployed": "[yellow]not deployed[/]",
}
