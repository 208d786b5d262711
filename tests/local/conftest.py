"""Fixtures of the local-backend tests: a tiny model built offline, data, an isolated home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from tuneport.providers.local import LocalProvider
from tuneport.testing import tiny_chat_examples, tiny_model


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in tiny_chat_examples(200)))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNEPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    return tmp_path / "home"


@pytest.fixture
def provider(home: Path) -> Iterator[LocalProvider]:
    prov = LocalProvider()
    yield prov
    # Never leave a trainer behind, whatever the test did.
    for job in prov.list_jobs():
        if not job.is_terminal:
            prov.cancel_job(job.id)


