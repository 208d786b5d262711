"""How every command reports an error: one exit-code rule, one JSON shape, one line of text.

The promise (docs/cli.md): with ``--json``, ``{"error": MESSAGE, "type": NAME}`` (plus
``"suggestions"`` when tuneport has near names) on stdout; without it, one line
``Error: MESSAGE`` on stderr, never wrapped (a log or a narrow terminal must still show the
whole id or command to copy), never a traceback.
"""

from __future__ import annotations

import json
from typing import Any

import typer

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_JOB_FAILED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "error_payload",
    "exit_code",
    "fail",
    "one_line",
]

# 1 the provider refused or could not be reached, 2 bad usage or configuration (unknown
# provider/model/GPU, missing key or package, invalid data), 3 the job failed or was
# cancelled, 4 waiting timed out (the job goes on), 130 interrupted.
EXIT_ERROR, EXIT_USAGE, EXIT_JOB_FAILED, EXIT_TIMEOUT, EXIT_INTERRUPTED = 1, 2, 3, 4, 130


def exit_code(exc: BaseException) -> int:
    """The exit status for an error, by what the user has to do about it."""
    from tuneport._exceptions import (
        CatalogError,
        ConfigError,
        DatasetError,
        DoesNotFitError,
        JobFailedError,
        JobTimeoutError,
        UnknownModelError,
        UnknownProviderError,
        UnsupportedFeatureError,
    )

    if isinstance(exc, JobTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, JobFailedError):
        return EXIT_JOB_FAILED
    usage = (ConfigError, DatasetError, UnknownModelError, UnknownProviderError,
             UnsupportedFeatureError, DoesNotFitError, CatalogError, ImportError)
    return EXIT_USAGE if isinstance(exc, usage) else EXIT_ERROR


def one_line(message: str) -> str:
    """``message`` with its line breaks folded, so a log shows it as one line."""
    return " ".join(message.split())


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The documented JSON shape of an error: ``error``, ``type`` and maybe ``suggestions``."""
    payload: dict[str, Any] = {"error": one_line(str(exc)), "type": type(exc).__name__}
    suggestions = getattr(exc, "suggestions", None)
    if suggestions:
        payload["suggestions"] = list(suggestions)
    return payload


def fail(exc: BaseException, as_json: bool, code: int | None = None) -> typer.Exit:
    """Report ``exc`` the documented way and return the :class:`typer.Exit` to raise."""
    if as_json:
        typer.echo(json.dumps(error_payload(exc), default=str))
    else:
        # typer.echo, not rich: rich wraps at the console width (80 columns in a pipe).
        typer.echo(f"Error: {one_line(str(exc))}", err=True)
    return typer.Exit(exit_code(exc) if code is None else code)
