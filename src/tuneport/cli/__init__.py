"""The ``tuneport`` command line.

Each area registers its commands from its own module (``register(app)``), so this file
stays a table of contents. Heavy imports happen inside the commands, never here.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="tuneport",
    help="Validate a fine-tuning dataset once, compare costs, and fine-tune on OpenAI, "
    "Together AI, Fireworks AI or locally.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules under tuneport.cli that define ``register(app)``.
_COMMAND_MODULES: tuple[str, ...] = ("catalog", "cost", "emulate", "endpoints", "eval", "jobs",
                                     "local", "metrics", "validate")


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"tuneport.cli.{name}")
        except ModuleNotFoundError as exc:
            # A module listed here but not yet present is a development-time slip, not a
            # user error; the other commands must keep working.
            if exc.name != f"tuneport.cli.{name}":
                raise
            continue
        module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from tuneport import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """Validate a fine-tuning dataset once, compare costs, and fine-tune anywhere."""


_register_all()


def main() -> None:
    """Entry point of the ``tuneport`` script."""
    import sys

    try:
        app()
    except ImportError as exc:
        # An optional package that a command needs is missing: one line naming the extra
        # that installs it (exit 2), never a traceback.
        from tuneport._extras import missing_dependency
        from tuneport.cli._errors import exit_code, fail

        args = [a for a in sys.argv[1:] if not a.startswith("-")]
        purpose = f"`tuneport {args[0]}`" if args else "tuneport"
        error = missing_dependency(exc, purpose)
        fail(error, "--json" in sys.argv)
        sys.exit(exit_code(error))
