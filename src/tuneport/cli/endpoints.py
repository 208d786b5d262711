"""``tuneport endpoints``: what this ledger deployed that is still up, and stopping it.

``--json`` prints exactly ``{"endpoints": [...]}`` (each endpoint with its ``state``,
``hourly_usd``, ``deployed_at``, ``stop_at`` and ``accrued_usd``), the same convention as
``tuneport jobs --json``; with ``--stop-expired`` a ``"stopped"`` list follows it.
The ``--stop`` and ``--stop-after`` flags of ``tuneport endpoint`` are checked here too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import typer

from tuneport.cli.jobs import _client, _emit, _handled, _out

if TYPE_CHECKING:
    from tuneport._models import ModelEndpoint

__all__ = ["check_endpoint_flags", "deadline", "register"]


def register(app: typer.Typer) -> None:
    """Add the ``endpoints`` command to the ``tuneport`` app."""
    app.command("endpoints")(endpoints_command)


def check_endpoint_flags(*, deploy: bool, wait: bool, stop: bool,
                         stop_after: str | None) -> None:
    """Refuse flag combinations of ``tuneport endpoint`` that mean nothing."""
    from tuneport._exceptions import ConfigError

    if stop and (deploy or wait or stop_after):
        raise ConfigError("--stop stops the deployment; it cannot be combined with --deploy, "
                          "--wait or --stop-after.")
    if wait and not deploy:
        raise ConfigError("--wait waits for a deployment; use it with --deploy.")
    if stop_after and not deploy:
        raise ConfigError("--stop-after sets the deadline of a new deployment; use it with "
                          "--deploy.")


def deadline(text: str | None) -> timedelta | None:
    """The ``--stop-after`` value as a duration (``2h``, ``90m``, ``1h30m``, ``1d``)."""
    if not text:
        return None
    from tuneport.client.deployments import parse_duration

    return parse_duration(text)


def endpoints_command(
    stop_expired: bool = typer.Option(
        False, "--stop-expired", help="First stop every deployment past its --stop-after."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """List the deployments this ledger started that are not stopped, with their cost so far."""
    with _handled(as_json), _client(None) as client:
        stopped = client.stop_expired() if stop_expired else []
        found = client.endpoints()
        if as_json:
            data: dict[str, object] = {"endpoints": [_dump(e) for e in found]}
            if stop_expired:
                data["stopped"] = [_dump(e) for e in stopped]
            _emit(data)
            return
        console = _out()
        for endpoint in stopped:
            console.print(f"Stopped {endpoint.provider}:{endpoint.job_id} (past its deadline).")
        if not found:
            console.print("No deployments running that tuneport started.")
            return
        from rich.markup import escape
        from rich.table import Table

        table = Table(caption="Each bills by the hour until stopped: "
                      "tuneport endpoint JOB --stop", caption_justify="left")
        table.add_column("Job", overflow="fold")
        table.add_column("State", no_wrap=True)
        table.add_column("Model", overflow="fold")
        table.add_column("$/hour", justify="right")
        table.add_column("So far", justify="right")
        table.add_column("Since", no_wrap=True)
        table.add_column("Stop after", no_wrap=True)
        for e in found:
            table.add_row(
                escape(f"{e.provider}:{e.job_id}"), e.state.value, escape(e.model),
                _money(e.hourly_usd), _money(e.accrued_usd),
                f"{e.deployed_at:%Y-%m-%d %H:%M}" if e.deployed_at else "",
                f"{e.stop_at:%Y-%m-%d %H:%M}" if e.stop_at else "",
            )
        console.print(table)


def _dump(endpoint: ModelEndpoint) -> dict[str, object]:
    return endpoint.model_dump(mode="json")


def _money(value: object) -> str:
    return f"${value}" if value is not None else ""
