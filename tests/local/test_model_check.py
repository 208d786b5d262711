"""A local base model that cannot be found is refused when the job is submitted, with what is
available instead, not a minute later by the trainer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneport._exceptions import ConfigError
from tuneport._models import FineTuneSpec, RemoteFile
from tuneport.providers.local import LocalProvider


def _fake_hf_cache(root: Path, repo: str) -> None:
    # The layout huggingface_hub reads: refs/main names a snapshot folder.
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    snapshot = folder / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "llama"}))


def _check(model: str, cache: Path) -> subprocess.CompletedProcess[str]:
    # A fresh process: huggingface_hub reads HF_HUB_CACHE when it is imported.
    code = ("from tuneport.local.models import check_model_available\n"
            f"check_model_available({model!r})\nprint('ok')")
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def test_a_typo_gets_the_cached_model_as_a_suggestion(tmp_path: Path) -> None:
    _fake_hf_cache(tmp_path / "hub", "acme/tiny-chat")
    assert _check("acme/tiny-chat", tmp_path / "hub").stdout.strip() == "ok"
    refused = _check("acme/tiny-caht", tmp_path / "hub")
    assert refused.returncode != 0
    assert "ConfigError" in refused.stderr
    assert "Available here: acme/tiny-chat, smollm2-135m-instruct (the demo model)" in (
        refused.stderr)


def test_create_job_refuses_before_anything_starts(tmp_path: Path) -> None:
    provider = LocalProvider(home=tmp_path / "home")
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    remote = RemoteFile(provider="local", id=str(data))
    for model in ("smollm2-135m", "./no/such/folder", tmp_path / "missing.gguf",
                  "no-such-org/no-such-model"):
        with pytest.raises(ConfigError, match="smollm2-135m-instruct \\(the demo model\\)"):
            provider.create_job(remote, FineTuneSpec(model=str(model)), "key")
    # Nothing was started: no run folder was written.
    runs = tmp_path / "home" / "runs"
    assert not runs.exists() or not any(runs.iterdir())
    assert list(provider.list_jobs()) == []


def test_a_model_folder_passes(tmp_path: Path) -> None:
    from tuneport.local.models import check_model_available

    (tmp_path / "config.json").write_text("{}")
    check_model_available(str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"without config\.json"):
        check_model_available(str(tmp_path / "empty"))
