"""Shared fixtures: every test gets its own TUNEPORT_HOME and a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_VARS = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "TOGETHER_API_KEY", "TOGETHER_BASE_URL",
    "FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID", "FIREWORKS_BASE_URL", "WANDB_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                  ) -> Path:
    """No test sees the developer's keys or home; model hubs are forced offline."""
    home = tmp_path_factory.mktemp("tuneport-home")
    for name in list(os.environ):
        if name.startswith("TUNEPORT_") or name in _VARS:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUNEPORT_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    return home
