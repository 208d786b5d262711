"""``tuneport catalog verify``: the catalog beside what the provider says through its SDK."""

from __future__ import annotations

import json

import typer

__all__ = ["register", "verify_command"]

catalog_app = typer.Typer(
    help="Check tuneport's provider catalogs (prices, limits, models) against the providers.",
    no_args_is_help=True,
)


@catalog_app.command("verify")
def verify_command(
    provider: str = typer.Option(..., "--provider", "-p",
                                 help="openai, together or fireworks."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """List the provider's fine-tunable models (and prices, limits where its API has them)
    and print where the catalog differs. Needs the provider's credentials.

    Exit status 0 when the check ran (differences or not), 1 when the provider refused or
    could not be reached, 2 for usage errors (unknown provider, missing key).
    """
    from tuneport._config import load_settings
    from tuneport._exceptions import TuneportError, UnknownProviderError
    from tuneport.catalog import load_catalog
    from tuneport.cli._errors import fail

    try:
        if provider not in ("openai", "together", "fireworks"):
            raise UnknownProviderError(
                f"catalog verify checks the hosted providers openai, together and fireworks; "
                f"got {provider!r}.")
        from tuneport.providers._catalog_check import verify_provider

        settings = load_settings(provider=provider).provider_settings(provider)
        report = verify_provider(provider, settings, load_catalog().provider(provider))
    except TuneportError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str))
        return
    typer.echo(f"{provider}: {report.models_listed} fine-tunable models listed, "
               f"{report.models_checked} catalog models checked.")
    if not report.differences:
        typer.echo("The catalog agrees with the provider.")
    for diff in report.differences:
        what = f"{diff.model} {diff.field}" if diff.model else diff.field
        typer.echo(f"- {what}: catalog {diff.catalog!r}, provider {diff.provider!r}. "
                   f"{diff.fix}")
    for line in report.not_checked:
        typer.echo(f"Not checked: {line}")


def register(app: typer.Typer) -> None:
    """Add ``tuneport catalog ...``."""
    app.add_typer(catalog_app, name="catalog")
