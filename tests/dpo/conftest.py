"""Fixtures of the DPO tests: the tiny model, preference pairs, an isolated home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneport.testing import tiny_preference_examples


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from tuneport.testing import tiny_model

    return tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in tiny_preference_examples(64)))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNEPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    return tmp_path / "home"


@pytest.fixture
def local_provider(home: Path) -> Iterator[object]:
    pytest.importorskip("peft")
    from tuneport.providers.local import LocalProvider

    prov = LocalProvider()
    yield prov
    for job in prov.list_jobs():
        if not job.is_terminal:
            prov.cancel_job(job.id)
