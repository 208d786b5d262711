"""Together requests that follow the SDK's types and the published spec (issue: provider truth).

Run against the emulator, which refuses what the spec refuses (``train_on_inputs`` is
required in an SFT ``training_method``) and prices evaluations the way Together documents
(``n_epochs x train tokens + n_evals x validation tokens``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hosted_helpers import JOB_SECONDS, make_provider, spec_for, write_dataset

from tuneport._models import RemoteFile
from tuneport.providers.together import TogetherProvider

together = pytest.importorskip("together")


def _ready(provider: TogetherProvider, emulator: Any, tmp_path: Path, tag: str) -> RemoteFile:
    remote = provider.upload(write_dataset(tmp_path, "together", tag=tag))
    emulator.advance(2)
    return provider.wait_file_ready(remote, timeout=5)


def test_quote_sends_train_on_inputs_and_prices_the_evals(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("together", emulator)
    assert isinstance(provider, TogetherProvider)
    train = _ready(provider, emulator, tmp_path, "t")
    held_out = _ready(provider, emulator, tmp_path, "v")
    spec = spec_for("together", epochs=3)
    alone = provider.quote(train, spec)  # refused with a 400 without train_on_inputs
    assert alone.available
    assert alone.eval_tokens == 0
    both = provider.quote(train, spec, validation_file=held_out)
    assert both.available
    assert both.train_tokens == alone.train_tokens
    # One evaluation per epoch, each over the whole validation file.
    one_pass = int(emulator.state.store.get("together", "file", held_out.id)["_tokens"])
    assert both.eval_tokens == 3 * one_pass
    assert both.total_usd is not None
    assert alone.total_usd is not None
    assert both.total_usd > alone.total_usd


def test_a_validation_file_runs_one_eval_per_epoch(emulator: Any, tmp_path: Path) -> None:
    provider = make_provider("together", emulator)
    assert isinstance(provider, TogetherProvider)
    train = _ready(provider, emulator, tmp_path, "t")
    held_out = _ready(provider, emulator, tmp_path, "v")
    job = provider.create_job(train, spec_for("together", epochs=2), "k-evals",
                              validation_file=held_out)
    assert job.raw["n_evals"] == 2
    assert job.validation_file == held_out.id
    without = provider.create_job(train, spec_for("together", epochs=2), "k-none")
    assert without.raw["n_evals"] == 0  # no validation file, nothing to evaluate
    emulator.advance(JOB_SECONDS + 1)
    assert provider.get_job(job.id).hyperparameters["n_evals"] == 2


def test_n_evals_can_be_set_explicitly() -> None:
    provider = TogetherProvider(api_key="tgp-test-key-000", base_url="http://127.0.0.1:9")
    train = RemoteFile(provider="together", id="file-t")
    held_out = RemoteFile(provider="together", id="file-v")
    spec = spec_for("together", epochs=4, provider_options={"n_evals": 1})
    kwargs = provider.build_create_params(train, spec, "k", validation_file=held_out)
    assert kwargs["n_evals"] == 1
    assert kwargs["validation_file"] == "file-v"
    provider.close()


def test_a_file_without_processing_status_is_ready_at_once(
        emulator: Any, tmp_path: Path) -> None:
    # Together leaves processing_status unset on files that skip validation (SDK
    # FileResponse); waiting for COMPLETED would poll until the timeout.
    provider = make_provider("together", emulator)
    assert isinstance(provider, TogetherProvider)
    provider.file_poll_interval = 1.0
    path = tmp_path / "eval.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n')
    sdk = together.Together(base_url=emulator.together_base_url, api_key=emulator.api_key,
                            max_retries=0)
    uploaded = sdk.files.upload(path, purpose="eval", check=False)
    sdk.close()
    started = time.monotonic()
    ready = provider.wait_file_ready(RemoteFile(provider="together", id=uploaded.id),
                                     timeout=3)
    assert time.monotonic() - started < 2
    assert ready.status is None
    assert ready.raw["Processed"] is True
