"""The client subsystem: the convenient layer over the provider adapters.

``Client`` / ``AsyncClient`` (public as :class:`tuneport.Client` and
:class:`tuneport.AsyncClient`) prepare a dataset once (``preparing``), submit it exactly once
(``submission``, ``retrying``), find jobs again by id or reference (``job_refs``) and wait on
them (``waiting``). The modules here are internal; import the public names from ``tuneport``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneport.client.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tuneport.client import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
