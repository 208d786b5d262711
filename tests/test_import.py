"""``import tuneport`` must stay light."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "openai", "together", "fireworks", "starlette",
         "uvicorn", "tiktoken", "datasets", "accelerate", "httpx", "httpx2")


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"import sys; {statement}; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_tuneport_loads_no_heavy_library() -> None:
    assert _loaded_after("import tuneport") == []


def test_public_names_resolve_without_heavy_libraries() -> None:
    # Touching the exception tree and the job models must not pull anything heavy either.
    assert _loaded_after("import tuneport; tuneport.Job; tuneport.JobStatus; "
                         "tuneport.TuneportError; tuneport.load_settings") == []


def test_unknown_attribute_raises_attribute_error() -> None:
    import pytest

    import tuneport

    with pytest.raises(AttributeError, match="no_such_name"):
        tuneport.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_every_public_name_resolves() -> None:
    import tuneport

    missing = []
    for name in tuneport.__all__:
        try:
            getattr(tuneport, name)
        except (AttributeError, ImportError):
            missing.append(name)
    assert missing == []


def test_lazy_names_are_listed_once_for_the_runtime_and_agree_with_type_checkers() -> None:
    # The runtime reads _LAZY only; type checkers read the TYPE_CHECKING imports. They
    # must name the same things, from the same modules.
    import ast
    from pathlib import Path

    import tuneport

    tree = ast.parse(Path(tuneport.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING")
    typed = {alias.asname or alias.name: node.module for node in block.body
             if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert typed == tuneport._LAZY
    assert set(tuneport._LAZY) <= set(tuneport.__all__)
    assert len(tuneport.__all__) == len(set(tuneport.__all__))
