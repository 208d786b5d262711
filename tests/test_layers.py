"""The package's layers point one way: a lower layer never imports a higher one.

Read from the source with ``ast`` (every import, including the lazy ones inside functions),
so the check holds for what runs, not only for what loads at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tuneport"

# What each room may import (besides itself). A room missing here is a new room: give it a
# place in the layering before it lands.
ALLOWED: dict[str, set[str]] = {
    "_exceptions": {"_models"},  # type-only: an error may carry the Job it concerns
    "_models": {"_exceptions"},
    "_config": {"_exceptions"},
    "_extras": {"_exceptions"},  # which extra installs an optional package (install hints)
    "dataset": {"_exceptions", "_models", "catalog"},
    "catalog": {"_exceptions"},
    "ledger": {"_exceptions", "_models"},
    "cost": {"_exceptions", "_extras", "_models", "catalog", "dataset"},
    "local": {"_exceptions", "_extras", "_models"},
    "providers": {"_exceptions", "_extras", "_models", "_config", "catalog", "local"},
    "emulator": {"_exceptions"},
    # Evaluation sits beside the client, below it: the client's evaluate() wires endpoints,
    # retries and the ledger into it; it never reaches up for them.
    "evaluate": {"_exceptions", "_extras", "_models", "_config", "catalog", "cost", "dataset",
                 "ledger"},
    "client": {"_exceptions", "_extras", "_models", "_config", "catalog", "cost", "dataset",
               "ledger", "providers", "evaluate"},
    "testing": {"_exceptions", "_models", "local", "dataset", "providers"},
    "cli": {"*"},
    "__init__": {"*"},
    "__main__": {"cli"},
}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _edges() -> set[tuple[str, str, str]]:
    edges: set[tuple[str, str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        source = rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "tuneport":
                    targets = [f"tuneport.{alias.name}" for alias in node.names]
                else:
                    targets = [node.module]
            for target in targets:
                if target == "tuneport" or target.startswith("tuneport."):
                    room = _room(target)
                    if room != source:
                        edges.add((source, room, str(rel)))
    return edges


def test_every_room_has_a_place() -> None:
    rooms = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.glob("*")
             if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert rooms - set(ALLOWED) == set()


def test_no_import_points_up() -> None:
    upward = sorted(
        f"{where}: {source} -> {target}"
        for source, target, where in _edges()
        if "*" not in ALLOWED[source] and target not in ALLOWED[source]
    )
    assert upward == []


def test_the_check_sees_a_lazy_import() -> None:
    # The checker must see imports inside functions, or the rule above proves nothing.
    edges = _edges()
    assert ("providers", "local", "providers/local.py") in edges
    assert ("cli", "local", "cli/demo.py") in edges
