"""Fixtures of the client tests: the in-memory backend registered as ``fake``/``fake2``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_fakes import Backend, FakeProvider

from tuneport.client.client import Client
from tuneport.providers import registry


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A fresh remote state, served under the provider names ``fake`` and ``fake2``."""
    state = Backend()
    fake = type("Fake", (FakeProvider,), {"backend": state})
    fake2 = type("Fake2", (FakeProvider,), {"backend": Backend(), "name": "fake2"})
    monkeypatch.setitem(registry._registry, "fake", registry._Entry(fake, "test"))
    monkeypatch.setitem(registry._registry, "fake2", registry._Entry(fake2, "test"))
    return state


@pytest.fixture
def sleeps() -> list[float]:
    """Every delay the client asked for (no real sleeping)."""
    return []


@pytest.fixture
def client(backend: Backend, sleeps: list[float]) -> Iterator[Client]:
    with Client(provider="fake") as c:
        c._sleep = sleeps.append
        yield c
