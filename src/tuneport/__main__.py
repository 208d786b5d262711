"""``python -m tuneport`` runs the CLI."""

from tuneport.cli import main

main()
