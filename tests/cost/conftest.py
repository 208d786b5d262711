"""Fixtures of the cost tests: the built-in catalog without the developer's overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneport.catalog import Catalog, MemoryModel, load_catalog


@pytest.fixture
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return load_catalog(tmp_path_factory.mktemp("no-overrides") / "none")


@pytest.fixture
def memory_model(catalog: Catalog) -> MemoryModel:
    return catalog.compute.memory


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
