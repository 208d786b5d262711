"""Fixtures for the dataset tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Record = dict[str, Any]


def chat(user: str = "Hi", assistant: str = "Hello!", system: str | None = None) -> Record:
    """A small valid chat example."""
    msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    if system is not None:
        msgs.insert(0, {"role": "system", "content": system})
    return {"messages": msgs}


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write records (dicts or raw strings) to a JSONL file and return its path."""

    def write(records: list[Any], name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        with path.open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
        return path

    return write
