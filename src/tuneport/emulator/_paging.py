"""Pagination helpers shared by the providers' list routes."""

from __future__ import annotations

from typing import Any

__all__ = ["cursor_page", "int_param"]

from tuneport.emulator._core import ApiError


def int_param(value: str | None, default: int, *, name: str, low: int, high: int) -> int:
    """A bounded integer query parameter; a 400 names the parameter when it is bad."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ApiError(400, f"Invalid '{name}': expected an integer, got {value!r}.",
                       param=name, code="invalid_value") from exc
    if not low <= number <= high:
        raise ApiError(400, f"Invalid '{name}': must be between {low} and {high}, got {number}.",
                       param=name, code="invalid_value")
    return number


def cursor_page(items: list[dict[str, Any]], after: str | None,
                limit: int) -> tuple[list[dict[str, Any]], bool]:
    """OpenAI-style cursor paging: the ``limit`` items following the one with id ``after``."""
    start = 0
    if after:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    page = items[start:start + limit]
    return page, start + limit < len(items)
