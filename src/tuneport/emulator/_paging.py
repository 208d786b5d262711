"""Pagination for the providers' list routes: OpenAI's cursors, Fireworks' page tokens.

(Together's lists are not paged.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneport.emulator._core import ApiError

__all__ = ["cursor_page", "int_param", "token_page"]


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


def token_page(query: Mapping[str, str], items: list[dict[str, Any]]
               ) -> tuple[list[dict[str, Any]], str, int]:
    """Google-style paging: ``(page, nextPageToken, totalSize)`` for ``pageSize``/``pageToken``.

    ``pageSize`` defaults to 50 and is capped at 200; the token is opaque to clients (here,
    the offset of the next page) and empty on the last page.
    """
    try:
        size = min(200, max(1, int(query.get("pageSize") or 50)))
        start = int(query.get("pageToken") or 0)
    except ValueError as exc:
        raise ApiError(400, "pageSize and pageToken must come from a previous answer") from exc
    page = items[start:start + size]
    token = str(start + size) if start + size < len(items) else ""
    return page, token, len(items)
