"""The official SDKs' DPO calls, unchanged, against the emulator: Fireworks' ``dpo_jobs``
life cycle, and each provider refusing what its service refuses (a DPO job on chat data,
a beta out of range)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

fireworks = pytest.importorskip("fireworks")
openai = pytest.importorskip("openai")
together = pytest.importorskip("together")

from tuneport.emulator import Emulator  # noqa: E402
from tuneport.testing import tiny_preference_examples  # noqa: E402

from .conftest import JOB_SECONDS  # noqa: E402

ACCOUNT = "acct1"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in tiny_preference_examples(12)))
    return path


def _fw(emu: Emulator) -> fireworks.Fireworks:
    return fireworks.Fireworks(base_url=emu.fireworks_base_url, api_key=emu.api_key,
                               account_id=ACCOUNT, max_retries=0)


def _dataset(emu: Emulator, c: fireworks.Fireworks, path: Path, did: str) -> str:
    c.datasets.create(dataset_id=did, dataset={"userUploaded": {}, "exampleCount": "12"})
    c.datasets.upload(did, file=path)
    emu.advance(1.0)
    return f"accounts/{ACCOUNT}/datasets/{did}"


def test_fireworks_dpo_job_life_cycle(emu: Emulator, pairs_file: Path) -> None:
    c = _fw(emu)
    dataset = _dataset(emu, c, pairs_file, "pairs")
    job = c.dpo_jobs.create(dataset=dataset, dpo_job_id="dpo1",
                            training_config={"base_model": BASE, "epochs": 1, "lora_rank": 8},
                            loss_config={"method": "DPO", "dpo": {"beta": 0.2}})
    assert job.name == f"accounts/{ACCOUNT}/dpoJobs/dpo1"
    assert job.training_config is not None
    assert job.training_config.output_model == f"accounts/{ACCOUNT}/models/dpo1"
    assert job.loss_config is not None
    assert job.loss_config.dpo is not None
    assert job.loss_config.dpo.beta == 0.2
    with pytest.raises(fireworks.ConflictError):
        c.dpo_jobs.create(dataset=dataset, dpo_job_id="dpo1",
                          training_config={"base_model": BASE})
    assert [j.name for j in c.dpo_jobs.list()] == [job.name]
    assert list(c.supervised_fine_tuning_jobs.list()) == []  # its own collection
    emu.advance(JOB_SECONDS + 10)
    assert c.dpo_jobs.get("dpo1").state == "JOB_STATE_COMPLETED"
    second = c.dpo_jobs.create(dataset=dataset, dpo_job_id="dpo2",
                               training_config={"base_model": BASE})
    emu.advance(10)
    c.dpo_jobs.cancel("dpo2", body={})
    emu.advance(30)
    assert c.dpo_jobs.get("dpo2").state == "JOB_STATE_CANCELLED"
    assert second.loss_config is not None
    assert second.loss_config.method == "DPO"


def test_fireworks_refuses_chat_data_and_a_bad_beta(emu: Emulator, train_file: Path,
                                                    pairs_file: Path) -> None:
    c = _fw(emu)
    chat = _dataset(emu, c, train_file, "chat")
    with pytest.raises(fireworks.BadRequestError, match="not a preference dataset"):
        c.dpo_jobs.create(dataset=chat, training_config={"base_model": BASE})
    pairs = _dataset(emu, c, pairs_file, "pairs")
    with pytest.raises(fireworks.BadRequestError, match="beta"):
        c.dpo_jobs.create(dataset=pairs, training_config={"base_model": BASE},
                          loss_config={"method": "DPO", "dpo": {"beta": 0.5}})
    with pytest.raises(fireworks.BadRequestError, match="not a preference method"):
        c.dpo_jobs.create(dataset=pairs, training_config={"base_model": BASE},
                          loss_config={"method": "GRPO"})


def test_openai_refuses_a_dpo_job_on_chat_data_and_a_bad_beta(
        emu: Emulator, train_file: Path, pairs_file: Path) -> None:
    c = openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key, max_retries=0)
    chat = c.files.create(file=train_file, purpose="fine-tune")
    pairs = c.files.create(file=pairs_file, purpose="fine-tune")
    dpo = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}
    with pytest.raises(openai.BadRequestError, match="preference"):
        c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=chat.id,
                                  method=dpo)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="beta"):
        c.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18", training_file=pairs.id,
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}})
    job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=pairs.id,
                                    method=dpo)  # type: ignore[arg-type]
    assert job.method is not None
    assert job.method.type == "dpo"
    assert job.method.dpo is not None
    assert job.method.dpo.hyperparameters is not None
    assert job.method.dpo.hyperparameters.beta == 0.1


def test_together_refuses_a_dpo_job_on_chat_data(emu: Emulator, train_file: Path) -> None:
    c = together.Together(base_url=emu.together_base_url, api_key=emu.api_key, max_retries=0)
    chat = c.files.upload(file=train_file, purpose="fine-tune", check=False)
    emu.advance(1.0)
    with pytest.raises(together.BadRequestError, match="preference dataset"):
        c.fine_tuning.create(training_file=chat.id,
                             model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                             training_method="dpo", train_on_inputs=None)
