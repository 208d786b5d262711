"""CLI commands of the local backend: ``serve``, ``demo`` and ``testing tiny-model``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["register"]

DEFAULT_SERVE_PORT = 8765


def register(app: typer.Typer) -> None:
    """Add the local backend's commands to the ``tuneport`` app."""
    app.command("serve")(serve_command)
    app.command("demo")(demo_command)
    testing = typer.Typer(help="Helpers for testing code that uses tuneport (offline).",
                          no_args_is_help=True)
    testing.command("tiny-model")(tiny_model_command)
    app.add_typer(testing, name="testing")


def _fail(exc: Exception) -> typer.Exit:
    from tuneport.cli._errors import fail

    return fail(exc, as_json=False)


def serve_command(
    job: str = typer.Argument(..., help="The id of a succeeded local job."),
    port: int = typer.Option(DEFAULT_SERVE_PORT, "--port", "-p", help="Port on 127.0.0.1."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve a local fine-tune as an OpenAI-compatible API on loopback.

    POST /v1/chat/completions and GET /v1/models; model is the job id (base + adapter)
    or "base" (the base model alone). For production, serve with vLLM (docs/local.md).
    """
    from rich.console import Console

    from tuneport._exceptions import TuneportError

    job_id = job.split(":", 1)[1] if job.startswith("local:") else job
    try:
        _check_servable(job_id)
    except TuneportError as exc:
        raise _fail(exc) from None
    from tuneport.local.serving import serve

    console = Console(stderr=True)
    console.print(f"Serving [bold]{job_id}[/] at http://127.0.0.1:{port}/v1 "
                  f"(models: {job_id}, base). Ctrl-C stops.")
    try:
        serve(job_id, port=port, log_level=log_level)
    except TuneportError as exc:
        raise _fail(exc) from None


def _check_servable(job_id: str) -> None:
    """Refuse, before announcing anything, a job that cannot be served or a missing package.

    Raises:
        ConfigError: no such local job, or it has not succeeded.
        MissingDependencyError: transformers or the web server is not installed.
    """
    import importlib

    from tuneport._exceptions import ConfigError
    from tuneport._extras import missing_dependency
    from tuneport.local.rundir import RunDir

    rd = RunDir.for_job(job_id)
    if not rd.exists():
        raise ConfigError(f"No local job {job_id!r} (looked in {rd.path}); `tuneport jobs "
                          "--provider local` lists them.")
    status = rd.read_status().get("status", "unknown")
    if status != "succeeded":
        raise ConfigError(f"Local job {job_id} is {status}; it can be served once it has "
                          f"succeeded (tuneport wait local:{job_id}).")
    for module in ("torch", "transformers", "peft", "starlette", "uvicorn"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise missing_dependency(exc, "`tuneport serve`", extra="local") from exc


def tiny_model_command(
    path: Path = typer.Argument(..., help="Folder to write the tiny model to."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Write a tiny Llama + tokenizer with a chat template (offline, seconds) for tests."""
    from tuneport.testing import tiny_model

    out = tiny_model(path)
    if as_json:
        typer.echo(json.dumps({"path": str(out)}))
    else:
        typer.echo(f"Tiny model written to {out}")


def demo_command(
    model: str = typer.Option("smollm2-135m-instruct", help="Base model: HF id, folder, GGUF."),
    data: Path = typer.Option(None, help="Chat JSONL (default: examples/data/support_chat.jsonl)."),
    epochs: int = typer.Option(1, help="Training epochs."),
    learning_rate: float = typer.Option(2e-3, help="LoRA learning rate."),
    max_steps: int = typer.Option(None, help="Stop after this many steps (quick runs)."),
) -> None:
    """Validate the sample data, compare costs, LoRA fine-tune on CPU, compare, evaluate."""
    from tuneport.cli.demo import run_demo

    try:
        run_demo(model=model, data=data, epochs=epochs, learning_rate=learning_rate,
                 max_steps=max_steps)
    except Exception as exc:  # the demo must end with a message, never a traceback
        from tuneport._exceptions import TuneportError

        if not isinstance(exc, TuneportError):
            raise
        raise _fail(exc) from None

