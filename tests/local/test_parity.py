"""The local trainer trains what transformers' Trainer trains, step for step.

The speed benchmark (bench/train.py) compares the two on the same data and
hyperparameters; its eval-loss target only means something if, layout aside, both
compute the same updates. These tests pin that down on the tiny model: the learning
rate at every step, and the step losses and held-out loss of a run whose steps are split
into several packed rows against a default Trainer + padding collator run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from local_helpers import log_of, upload, wait

from tuneport._models import FineTuneSpec, JobStatus
from tuneport.local.config import TrainConfig
from tuneport.local.data import prepare_examples, read_jsonl
from tuneport.local.models import (
    default_target_modules,
    load_model,
    load_tokenizer,
)
from tuneport.local.packing import group_micro_batches
from tuneport.local.trainer import _lr_lambda, build_schedule
from tuneport.providers.local import LocalProvider
from tuneport.testing import held_out_loss

_HF_SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


@pytest.mark.parametrize("scheduler", ["linear", "cosine", "constant"])
@pytest.mark.parametrize("total_steps", [1, 3, 4, 12, 16, 25, 100])
@pytest.mark.parametrize("warmup_ratio", [0.0, 0.05, 0.1, 0.25])
def test_learning_rate_at_every_step_is_transformers(tmp_path: Path, scheduler: str,
                                                     total_steps: int,
                                                     warmup_ratio: float) -> None:
    from transformers import TrainingArguments, get_scheduler

    args = TrainingArguments(output_dir=str(tmp_path), warmup_steps=warmup_ratio,
                             report_to="none", use_cpu=True)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    theirs = get_scheduler(_HF_SCHEDULERS[scheduler], optimizer,
                           num_warmup_steps=args.get_warmup_steps(total_steps),
                           num_training_steps=total_steps)
    config = TrainConfig(job_id="j", model="m", train_file="f", lr_scheduler=scheduler,
                         warmup_ratio=warmup_ratio)
    ours = _lr_lambda(config, total_steps)
    for step in range(total_steps):
        assert ours(step) == pytest.approx(theirs.lr_lambdas[0](step), abs=1e-12), step


def _variable_length_records(n: int, seed: int) -> list[dict[str, Any]]:
    """Chat examples whose replies range from 1 to 40 words: padding matters."""
    rng = random.Random(seed)
    words = ["cow", "red", "blue", "hello", "plus", "is", "the", "pig", "green"]
    return [{"messages": [
        {"role": "user", "content": " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))},
        {"role": "assistant",
         "content": " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))},
    ]} for _ in range(n)]


def _transformers_run(model_path: Path, train_file: Path, val_file: Path, config: TrainConfig,
                      out: Path) -> tuple[list[float], float]:
    """A default Trainer + peft LoRA + DataCollatorForSeq2Seq run in tuneport's step order."""
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    tokenizer = load_tokenizer(str(model_path))
    train, _ = prepare_examples(tokenizer, read_jsonl(str(train_file)), max_seq_len=512,
                                over_length="truncate")
    val, _ = prepare_examples(tokenizer, read_jsonl(str(val_file)), max_seq_len=512,
                              over_length="truncate")
    schedule = build_schedule(len(train), config)
    # The point of the test: tuneport splits each step into several packed rows.
    assert all(len(group_micro_batches(train, step, config.tokens_per_micro_batch or 0)) > 1
               for step in schedule)
    rows = [{"input_ids": train[i].input_ids,
             "labels": [t if on else -100 for t, on in zip(train[i].input_ids, train[i].trained,
                                                           strict=True)]}
            for step in schedule for i in step]
    torch.manual_seed(config.seed)  # where tuneport's trainer seeds: the same LoRA init
    base = load_model(str(model_path), attn_implementation="sdpa")
    model = get_peft_model(base, LoraConfig(
        r=config.lora_rank, lora_alpha=config.lora_alpha,
        target_modules=default_target_modules(base.config.model_type), task_type="CAUSAL_LM"))
    args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=config.batch_size,
        learning_rate=config.effective_learning_rate(), max_steps=len(schedule),
        lr_scheduler_type="linear",
        warmup_steps=config.warmup_ratio, weight_decay=0.0, max_grad_norm=1.0, logging_steps=1,
        save_strategy="no", report_to="none", use_cpu=True, seed=config.seed,
        train_sampling_strategy="sequential", remove_unused_columns=False,
        dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows,
                      data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True))
    trainer.train()
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    return losses, held_out_loss(model, val)


# transformers' own Trainer reads its deprecated alias (transformers 5.x).
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_steps_split_into_packed_rows_train_what_a_padded_trainer_trains(
        provider: LocalProvider, home: Path, tmp_path: Path, tiny_model_path: Path) -> None:
    train_file, val_file = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in _variable_length_records(32, 0)))
    val_file.write_text("".join(json.dumps(r) + "\n" for r in _variable_length_records(8, 1)))
    options = {"threads": 1, "max_seq_len": 512, "tokens_per_micro_batch": 96,
               "warmup_ratio": 0.25, "lr_scheduler": "linear", "eval_every": 10**6,
               "save_every": 10**6}
    spec = FineTuneSpec(model=str(tiny_model_path), epochs=1, learning_rate=5e-3, batch_size=8,
                        lora_rank=4, lora_alpha=8, seed=3, provider_options=options)
    job = provider.create_job(upload(provider, train_file), spec, "parity",  # type: ignore[arg-type]
                              validation_file=upload(provider, val_file))  # type: ignore[arg-type]
    job = wait(provider, job.id)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    points = provider.metrics(job.id)
    ours = [p.train_loss for p in points]
    our_eval = [p.eval_loss for p in points if p.eval_loss is not None][-1]
    # The warmup's first step runs at rate 0 (transformers' convention), then the full rate.
    assert [p.learning_rate for p in points] == pytest.approx([0.0, 5e-3, 5e-3 * 2 / 3,
                                                               5e-3 / 3])

    config = TrainConfig(job_id="j", model=str(tiny_model_path), train_file=str(train_file),
                         epochs=1, batch_size=8, learning_rate=5e-3, lora_rank=4, lora_alpha=8,
                         seed=3, tokens_per_micro_batch=96, warmup_ratio=0.25)
    theirs, their_eval = _transformers_run(tiny_model_path, train_file, val_file, config,
                                           tmp_path / "hf")
    assert len(ours) == len(theirs) == 4
    # Step 1 sees the untouched model: the loss of a step split into rows is the padded
    # batch's mean over its trained tokens (not a mean of per-row means).
    assert ours[0] == pytest.approx(theirs[0], rel=1e-5)
    assert ours == pytest.approx(theirs, rel=1e-4)
    assert our_eval == pytest.approx(their_eval, rel=1e-4)
    assert our_eval < _held_out_loss_untrained(tiny_model_path, val_file)


def _held_out_loss_untrained(model_path: Path, val_file: Path) -> float:
    tokenizer = load_tokenizer(str(model_path))
    val, _ = prepare_examples(tokenizer, read_jsonl(str(val_file)), max_seq_len=512,
                              over_length="truncate")
    return held_out_loss(load_model(str(model_path), attn_implementation="sdpa"), val)
