"""``tuneport emulate``: the three providers' fine-tuning APIs on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]


def emulate(
    port: int = typer.Option(8765, "--port", help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to listen on."),
    job_seconds: float = typer.Option(30.0, "--job-seconds", help="How long a job takes."),
    fail_rate: float = typer.Option(0.0, "--fail-rate",
                                    help="Share of jobs that fail with a realistic error."),
    fault_rate: float = typer.Option(0.0, "--fault-rate",
                                     help="Share of requests that meet a transport fault "
                                          "(429, 500/503, slow answer, dropped connection)."),
    seed: int = typer.Option(0, "--seed", help="Seed for ids, failures and faults."),
    state: Path | None = typer.Option(None, "--state",
                                      help="SQLite file that keeps jobs across restarts."),
    api_key: str | None = typer.Option(None, "--api-key", help="The key clients must send."),
    openai_fine_tuning_closed: bool = typer.Option(
        False, "--openai-fine-tuning-closed",
        help="OpenAI refuses new fine-tuning jobs with 403 permission denied, as after the "
             "self-serve wind-down."),
    manual_clock: bool = typer.Option(
        False, "--manual-clock",
        help="Time stands still until POST /_emulator/clock/advance {\"seconds\": N} moves "
             "it: deterministic runs driven from another process."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Print the base URLs and env vars as one JSON object."),
) -> None:
    """Serve the OpenAI, Together and Fireworks fine-tuning APIs on loopback until Ctrl-C."""
    try:
        from tuneport.emulator._clock import ManualClock
        from tuneport.emulator._core import DEFAULT_API_KEY, EmulatorConfig
        from tuneport.emulator._server import Emulator, serve_forever
        # Starlette imports python-multipart only when a form arrives: without it every
        # upload would be answered 500, so the server refuses to start instead.
        _require_multipart()
    except ImportError as exc:
        from tuneport._extras import missing_dependency
        from tuneport.cli._errors import fail

        raise fail(missing_dependency(exc, "`tuneport emulate`", extra="emulator"),
                   as_json) from exc
    config = EmulatorConfig(host=host, port=port, job_seconds=job_seconds, fail_rate=fail_rate,
                            fault_rate=fault_rate, seed=seed, state_path=state,
                            api_key=api_key or DEFAULT_API_KEY,
                            openai_fine_tuning_closed=openai_fine_tuning_closed)
    from tuneport._exceptions import ConfigError, TuneportError
    from tuneport.cli._errors import EXIT_ERROR, fail

    try:
        config.check()
    except ValueError as exc:
        raise fail(ConfigError(str(exc)), as_json) from exc

    def ready(emu: Emulator) -> None:
        info: dict[str, Any] = {
            "url": emu.url,
            "base_urls": {"openai": emu.openai_base_url, "together": emu.together_base_url,
                          "fireworks": emu.fireworks_base_url},
            "env": emu.env(),
            "control": emu.url + "/_emulator",
            "clock": "manual" if manual_clock else "wall",
        }
        if as_json:
            typer.echo(json.dumps(info))
            return
        from rich.console import Console

        console = Console()
        console.print(f"[bold]tuneport emulator[/bold] on {emu.url} (Ctrl-C to stop)")
        for name, url in info["base_urls"].items():
            console.print(f"  {name:<9} {url}")
        console.print("\nPoint the SDKs at it:")
        for key, value in info["env"].items():
            console.print(f"  export {key}={value}", highlight=False)
        if manual_clock:
            console.print("\nThe clock is manual; move it with:\n"
                          f"  curl -d '{{\"seconds\": 30}}' {info['control']}/clock/advance",
                          highlight=False)

    try:
        serve_forever(config, clock=ManualClock() if manual_clock else None, on_ready=ready)
    except ValueError as exc:  # an unusable --state file
        raise fail(ConfigError(str(exc)), as_json) from exc
    except OSError as exc:
        raise fail(TuneportError(f"cannot listen on {host}:{port} ({exc.strerror}); choose "
                                 "another --port."), as_json, code=EXIT_ERROR) from exc
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass


def _require_multipart() -> None:
    import importlib

    try:
        importlib.import_module("python_multipart")
    except ImportError:
        importlib.import_module("multipart")  # the package's older import name


def register(app: typer.Typer) -> None:
    """Add ``emulate`` to the tuneport CLI."""
    app.command("emulate")(emulate)
