"""The local trainer: runs in its own process (``python -m tuneport.local train``).

An own loop rather than transformers' Trainer, because packing without cross-example
attention and computing the LM head only at trained positions need control over the
forward pass (see :mod:`tuneport.local.packing`).

Everything it reports goes to the run directory (status, events, checkpoints). Under a
launcher (``torchrun``, ``accelerate launch``) every rank trains its share of each step's
examples through torch's DistributedDataParallel, or FSDP for full fine-tuning (see
:mod:`tuneport.local.distributed`); the loss is normalized by the *global*
number of trained tokens, so N processes train the model one process would. Only rank 0
writes to the run directory.
"""

from __future__ import annotations

import math
import os
import random
import resource
import shutil
import signal
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from tuneport._exceptions import TuneportError, UnsupportedFeatureError
from tuneport.local.accounting import record_throughput, run_cost_usd
from tuneport.local.config import TrainConfig
from tuneport.local.data import TokenizedExample, prepare_examples, read_jsonl
from tuneport.local.distributed import Distributed, resolve_strategy
from tuneport.local.dpo import (
    PairBatch,
    TokenizedPair,
    dpo_terms,
    group_pairs,
    pack_pairs,
    pair_logps,
    prepare_pairs,
    reference_off,
)
from tuneport.local.models import (
    default_target_modules,
    load_model,
    load_tokenizer,
    resolve_model_path,
)
from tuneport.local.packing import (
    PackedBatch,
    group_micro_batches,
    pack,
    register_packed_attention,
)
from tuneport.local.rundir import RunDir, utcnow

__all__ = ["Stopped", "run_training"]

# Seconds to sleep after each optimizer step (TUNEPORT_LOCAL_STEP_DELAY): lets tests and
# users interrupt a tiny run at a known point; 0 in normal use.
_STEP_DELAY = float(os.environ.get("TUNEPORT_LOCAL_STEP_DELAY", "0") or 0)


class Stopped(Exception):  # noqa: N818 - control flow, not an error
    """Raised inside the loop when a stop was requested (cancel or SIGTERM)."""


class _StopFlag:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _lr_lambda(config: TrainConfig, total_steps: int) -> Any:
    """The learning-rate factor at each optimizer step (0-based), for ``LambdaLR``.

    The conventions of transformers' schedulers under ``TrainingArguments`` (a warmup
    ratio gives ``ceil(ratio * steps)`` warmup steps; warmup rises from 0 at the first
    step), so hyperparameters tuned there carry over and runs compare step by step.
    """
    warmup = math.ceil(config.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return step / warmup
        if config.lr_scheduler == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        if config.lr_scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return max(0.0, 1.0 - progress)

    return factor


def build_schedule(n_examples: int, config: TrainConfig) -> list[list[int]]:
    """Example indices of every optimizer step, all epochs, deterministic in the seed."""
    steps: list[list[int]] = []
    for epoch in range(config.epochs):
        order = list(range(n_examples))
        random.Random(config.seed * 1000 + epoch).shuffle(order)
        for start in range(0, n_examples, config.batch_size):
            steps.append(order[start: start + config.batch_size])
    if config.max_steps is not None:
        steps = steps[: config.max_steps]
    return steps


def _split_validation(examples: list[Any], config: TrainConfig,
                      has_file: bool) -> tuple[list[Any], list[Any]]:
    fraction = config.validation_split
    if fraction is None:
        # Default: hold out 10% (at most 200 examples) when there is enough data.
        fraction = 0.1 if (not has_file and len(examples) >= 40) else 0.0
    if fraction <= 0:
        return examples, []
    order = list(range(len(examples)))
    random.Random(config.seed).shuffle(order)
    n_val = min(200, max(1, int(len(examples) * fraction)))
    val_ids = set(order[:n_val])
    train = [e for i, e in enumerate(examples) if i not in val_ids]
    val = [e for i, e in enumerate(examples) if i in val_ids]
    return train, val


class _Run:
    """State of one training process."""

    def __init__(self, run_dir: RunDir, resume: bool) -> None:
        self.rd = run_dir
        self.config = TrainConfig(**run_dir.read_config())
        self.resume = resume
        self.dist = Distributed(resolve_strategy(self.config.distributed, self.config.method))
        self.stop = _StopFlag()
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.wandb_run: Any = None
        self.dpo = self.config.objective == "dpo"
        # Full-FT DPO: reference log-probs of every pair, computed before the first step.
        self.reference: dict[tuple[bool, int], Any] = {}

    # -- reporting (rank 0 only) ---------------------------------------------------------
    def status(self, **fields: Any) -> None:
        if self.dist.is_main:
            self.rd.update_status(**fields)

    def event(self, message: str, **kwargs: Any) -> None:
        if self.dist.is_main:
            self.rd.append_event(message, **kwargs)

    def log(self, message: str) -> None:
        if self.dist.is_main:
            print(message, flush=True)

    # -- set-up --------------------------------------------------------------------------
    def setup(self) -> None:
        import torch

        cfg = self.config
        threads = cfg.threads or int(os.environ.get("TUNEPORT_LOCAL_THREADS", "0") or 0)
        if threads:
            torch.set_num_threads(threads)
        torch.manual_seed(cfg.seed)
        if cfg.device:
            self.device = torch.device(cfg.device)
        elif torch.cuda.is_available():
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        on_gpu = self.device.type == "cuda"
        if cfg.method == "qlora" and not on_gpu:
            raise UnsupportedFeatureError("QLoRA needs a CUDA GPU and bitsandbytes; "
                                          "use method='lora' on this machine.")
        precision = cfg.mixed_precision
        if precision == "auto":
            precision = "bf16" if on_gpu and torch.cuda.is_bf16_supported() else "no"
        # Activation memory grows with the packed row; on CPU, 1k-token rows keep the
        # matrix products efficient while cutting peak memory (measured on SmolLM2-135M).
        self.tokens_per_row = cfg.tokens_per_micro_batch or (8192 if on_gpu else 1024)
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.precision = precision

        self.status(status="running", phase="loading", pid=os.getpid(),
                    started_at=self.rd.read_status().get("started_at") or utcnow().isoformat())
        self.event("Loading the base model and data", type="status")
        # Rank 0 converts GGUF files first so that ranks do not race on the cache folder.
        if self.dist.is_main:
            self.model_path = resolve_model_path(cfg.model)
        self.dist.barrier()
        if not self.dist.is_main:
            self.model_path = resolve_model_path(cfg.model)
        self.tokenizer = load_tokenizer(self.model_path)

        model = load_model(self.model_path, attn_implementation=register_packed_attention(),
                           quantization_config=self._quantization_config(),
                           device_map={"": self.device} if cfg.method == "qlora" else None)
        max_positions = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
        self.max_seq_len = cfg.max_seq_len or min(max_positions, 2048)
        self._load_data()
        self.model = self._prepare_model(model, on_gpu)
        self.n_params = sum(p.numel() for p in self.model.parameters())
        self.n_trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        # Every forward goes through the root (plain, DDP or FSDP); under FSDP the
        # optimizer must see the sharded parameters, so they are taken after wrapping.
        self.root = self.dist.wrap(self.model)
        self.params = [p for p in self.root.parameters() if p.requires_grad]

    def _quantization_config(self) -> Any:
        if self.config.method != "qlora":
            return None
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            raise UnsupportedFeatureError("QLoRA needs bitsandbytes: pip install bitsandbytes "
                                          "(CUDA only), or use method='lora'.")
        import torch
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)

    def _load_data(self) -> None:
        cfg = self.config
        records = read_jsonl(cfg.train_file)
        prepare: Any = prepare_pairs if self.dpo else prepare_examples
        examples, report = prepare(self.tokenizer, records, max_seq_len=self.max_seq_len,
                                   over_length=cfg.over_length)
        train, val = _split_validation(examples, cfg, cfg.validation_file is not None)
        val_report = None
        if cfg.validation_file:
            val, vr = prepare(self.tokenizer, read_jsonl(cfg.validation_file),
                              max_seq_len=self.max_seq_len, over_length=cfg.over_length)
            val_report = vr.as_dict()
        if not train:
            raise TuneportError("No usable training examples after truncation/dropping; "
                                "see the data report in events.jsonl.")
        self.train_examples, self.val_examples = train, val
        level = "warning" if report.dropped or report.truncated_lines else "info"
        self.event(
            f"Data: {report.n_used} of {report.n_lines} examples used "
            f"({len(report.truncated_lines)} truncated, {len(report.dropped)} dropped, "
            f"max_seq_len {self.max_seq_len}); {len(train)} train, {len(val)} validation",
            type="data_report", level=level, report=report.as_dict(),
            validation_report=val_report, n_train=len(train), n_validation=len(val),
        )

    def _prepare_model(self, model: Any, on_gpu: bool) -> Any:
        cfg = self.config
        use_gc = cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else on_gpu
        self.gradient_checkpointing = bool(use_gc)  # what was applied, for status and events
        if cfg.method == "full":
            model.to(self.device)
            if use_gc:
                model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
            model.train()
            return model
        from peft import LoraConfig, get_peft_model

        if cfg.method == "qlora":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
                model, use_gradient_checkpointing=use_gc)
        else:
            model.to(self.device)
            if use_gc:
                model.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
        targets = cfg.target_modules or default_target_modules(model.config.model_type)
        lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha,
                          lora_dropout=cfg.lora_dropout, target_modules=targets,
                          task_type="CAUSAL_LM")
        peft_model = get_peft_model(model, lora)
        peft_model.train()
        return peft_model

    # -- checkpoints ---------------------------------------------------------------------
    def _trainable_state(self) -> dict[str, Any]:
        if self.dist.sharded:
            return self.dist.full_model_state()  # collective; full tensors on rank 0 only
        return {name: p.detach().cpu().clone()
                for name, p in self.model.named_parameters() if p.requires_grad}

    def _optimizer_state(self, optimizer: Any) -> dict[str, Any]:
        if self.dist.sharded:
            return self.dist.full_optimizer_state(optimizer)
        state: dict[str, Any] = optimizer.state_dict()
        return state

    def save_checkpoint(self, step: int, optimizer: Any, scheduler: Any,
                        totals: dict[str, float]) -> Path | None:
        """Save what resuming needs (every rank calls this; rank 0 writes)."""
        import torch

        trainable, optimizer_state = self._trainable_state(), self._optimizer_state(optimizer)
        if not self.dist.is_main:
            return None
        target = self.rd.checkpoints_dir / f"step-{step}"
        tmp = self.rd.checkpoints_dir / f".step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.config.method != "full":
            self.model.save_pretrained(tmp)  # a usable adapter at every checkpoint
        torch.save({
            "step": step,
            "trainable": trainable,
            "optimizer": optimizer_state,
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "totals": totals,
        }, tmp / "trainer_state.pt")
        shutil.rmtree(target, ignore_errors=True)
        tmp.replace(target)
        for old in self.rd.checkpoint_dirs()[: -self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        self.event(f"Checkpoint saved at step {step}", type="checkpoint", step=step,
                   path=str(target))
        return target

    def load_checkpoint(self, optimizer: Any, scheduler: Any) -> tuple[int, dict[str, float]]:
        """Restore the last checkpoint (every rank reads it); returns its step and totals."""
        import torch

        checkpoints = self.rd.checkpoint_dirs()
        if not checkpoints:
            return 0, {}
        state = torch.load(checkpoints[-1] / "trainer_state.pt", map_location="cpu",
                           weights_only=False)
        if self.dist.sharded:
            self.dist.load_full_model_state(state["trainable"])
            self.dist.load_full_optimizer_state(optimizer, state["optimizer"])
        else:
            named = dict(self.model.named_parameters())
            with torch.no_grad():
                for name, tensor in state["trainable"].items():
                    named[name].copy_(tensor.to(named[name].device))
            optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
        self.event(f"Resumed from the checkpoint at step {step}", type="resume", step=step)
        return step, dict(state["totals"])

    # -- training ------------------------------------------------------------------------
    def _check_stop(self) -> None:
        local = 1.0 if (self.stop.requested or self.rd.cancel_path.exists()) else 0.0
        if self.dist.sum([local])[0] > 0:
            raise Stopped

    def _rank_batches(self, indices: list[int],
                      examples: list[TokenizedExample]) -> list[tuple[PackedBatch, float]]:
        """This rank's packed rows of ``indices``, each with its loss weight (1 or 0).

        DDP and FSDP need every rank to run the same number of forward/backward passes,
        so a rank with fewer rows (or none) gets zero-weight copies of a real row.
        """
        mine = indices[self.dist.rank:: self.dist.world]
        batches = [(pack(examples, group), 1.0)
                   for group in group_micro_batches(examples, mine, self.tokens_per_row)]
        wanted = self.dist.max(len(batches))
        if len(batches) < wanted:
            filler = batches[0][0] if batches else pack(examples, indices[:1])
            batches += [(filler, 0.0)] * (wanted - len(batches))
        return batches

    def _pair_batches(self, indices: list[int],
                      pairs: list[TokenizedPair]) -> list[tuple[PairBatch, float]]:
        """This rank's packed rows of preference pairs (as :meth:`_rank_batches`)."""
        mine = indices[self.dist.rank:: self.dist.world]
        batches = [(pack_pairs(pairs, group), 1.0)
                   for group in group_pairs(pairs, mine, self.tokens_per_row)]
        wanted = self.dist.max(len(batches))
        if len(batches) < wanted:
            filler = batches[0][0] if batches else pack_pairs(pairs, indices[:1])
            batches += [(filler, 0.0)] * (wanted - len(batches))
        return batches

    def _reference_logps(self, batch: PairBatch, validation: bool) -> Any:
        """The reference model's reply log-probs for a row of pairs (no gradient)."""
        import torch

        if self.config.method == "full":
            return torch.stack([self.reference[(validation, i)] for i in batch.indices]
                               ).reshape(-1)
        with torch.no_grad(), reference_off(self.model):
            return self._autocast(pair_logps, self.model, batch)

    def _precompute_reference(self) -> None:
        """Full fine-tuning: every pair's reference log-probs, by the untouched model.

        Every rank computes all pairs in the same order (FSDP forwards are collective).
        """
        import torch

        self.root.eval()
        with torch.no_grad():
            for validation, pairs in ((False, self.train_examples), (True, self.val_examples)):
                order = list(range(len(pairs)))
                for start in range(0, len(order), 64):
                    for group in group_pairs(pairs, order[start:start + 64],
                                             self.tokens_per_row):
                        batch = pack_pairs(pairs, group)
                        logps = self._loss(batch).detach().float().cpu().reshape(-1, 2)
                        for index, row in zip(group, logps, strict=True):
                            self.reference[(validation, index)] = row
        self.root.train()

    def _dpo_micro_steps(self, batches: list[tuple[PairBatch, float]],
                         scale: float) -> list[float]:
        """Forward/backward of one step's rows; local sums of loss, rewards, accuracy."""
        sums = [0.0, 0.0, 0.0, 0.0]
        for number, (batch, weight) in enumerate(batches, start=1):
            reference = self._reference_logps(batch, validation=False)
            with self.dist.gradient_sync(enabled=number == len(batches)):
                losses, chosen, rejected = dpo_terms(self._loss(batch), reference,
                                                     self.config.beta)
                objective: Any = losses.sum() * (weight * scale)
                objective.backward()
            values = (losses.detach().sum(), chosen.sum(), rejected.sum(),
                      (chosen > rejected).float().sum())
            sums = [s + weight * float(v) for s, v in zip(sums, values, strict=True)]
        return sums

    def _autocast(self, fn: Any, *args: Any) -> Any:
        import torch

        if self.autocast_dtype is not None:
            with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype):
                return fn(*args)
        return fn(*args)

    def _loss(self, batch: PackedBatch | PairBatch) -> Any:
        import torch

        if self.autocast_dtype is not None:
            with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype):
                return self.root(batch)
        return self.root(batch)

    def evaluate(self) -> float | None:
        """Mean loss per trained token of the validation examples (all ranks)."""
        if not self.val_examples:
            return None
        import torch

        self.root.eval()
        total, count = 0.0, 0.0
        with torch.no_grad():
            order = list(range(len(self.val_examples)))
            if self.dpo:  # mean DPO loss per validation pair
                for pairs, weight in self._pair_batches(order, self.val_examples):
                    losses, _, _ = dpo_terms(self._loss(pairs),
                                             self._reference_logps(pairs, validation=True),
                                             self.config.beta)
                    if weight:
                        total += float(losses.sum())
                        count += pairs.n_pairs
                order = []
            for batch, weight in self._rank_batches(order, self.val_examples):
                loss = self._loss(batch)
                if weight:
                    total += float(loss)
                    count += batch.n_trained
        self.root.train()
        total, count = self.dist.sum([total, count])
        return total / max(count, 1.0)

    def _init_wandb(self) -> None:
        cfg = self.config
        if not cfg.wandb or not self.dist.is_main:
            return
        try:
            import wandb
        except ImportError:
            self.event("wandb is not installed; the run is not logged to Weights & Biases "
                       "(pip install 'tuneport[wandb]').", type="warning", level="warning")
            return
        settings = cfg.wandb
        self.wandb_run = wandb.init(
            project=settings["project"], entity=settings.get("entity"),
            name=settings.get("name") or cfg.job_id, tags=list(settings.get("tags") or ()),
            id=cfg.job_id, resume="allow", dir=str(self.rd.path),
            config=cfg.model_dump(mode="json", exclude={"wandb", "spec"}),
        )
        self.event(f"Logging to Weights & Biases project {settings['project']!r}", type="wandb",
                   mode=os.environ.get("WANDB_MODE", "online"))

    def train(self) -> None:
        import torch

        cfg = self.config
        schedule = build_schedule(len(self.train_examples), cfg)
        total_steps = len(schedule)
        optimizer = torch.optim.AdamW(self.params, lr=cfg.effective_learning_rate(),
                                      weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg, total_steps))
        if self.dpo and cfg.method == "full":
            self._precompute_reference()  # before a checkpoint replaces the weights
        start_step, totals = (self.load_checkpoint(optimizer, scheduler)
                              if self.resume else (0, {}))
        totals = {"trained_tokens": 0.0, "processed_tokens": 0.0, "train_seconds": 0.0,
                  "cpu_seconds": 0.0, **totals}
        save_every = cfg.save_every or max(1, math.ceil(total_steps / 4))
        eval_every = cfg.eval_every or save_every
        self._init_wandb()
        self.status(status="running", phase="training", total_steps=total_steps,
                    step=start_step, n_params=self.n_params, n_trainable=self.n_trainable,
                    device=self.device.type, precision=self.precision,
                    gradient_checkpointing=self.gradient_checkpointing)
        layout = f" ({self.dist.strategy.upper()})" if self.dist.strategy else ""
        kind = f"dpo-{cfg.method}" if self.dpo else cfg.method
        self.event(f"Training {kind} on {self.device.type} x{self.dist.world}{layout}: "
                   f"{total_steps} steps, {self.n_trainable:,} of {self.n_params:,} "
                   f"parameters trainable", type="status", total_steps=total_steps,
                   distributed=self.dist.strategy, world_size=self.dist.world,
                   precision=self.precision, gradient_checkpointing=self.gradient_checkpointing)
        step = start_step
        try:
            for step_index in range(start_step, total_steps):
                self._check_stop()
                began, cpu_began = time.perf_counter(), _cpu_seconds()
                batches: list[tuple[Any, float]] = (
                    self._pair_batches(schedule[step_index], self.train_examples) if self.dpo
                    else self._rank_batches(schedule[step_index], self.train_examples))
                local_trained = float(sum(b.n_trained * w for b, w in batches))
                local_tokens = float(sum(b.n_tokens * w for b, w in batches))
                global_trained, global_tokens = self.dist.sum([local_trained, local_tokens])
                # DDP/FSDP average gradients over ranks; x world makes that the sum.
                scale = self.dist.world / max(global_trained, 1.0)
                loss_sum = 0.0
                dpo_sums: list[float] = []
                if self.dpo:
                    # The DPO loss is a mean over the step's pairs (all ranks).
                    (global_pairs,) = self.dist.sum([float(sum(b.n_pairs * w
                                                               for b, w in batches))])
                    dpo_sums = self.dist.sum(self._dpo_micro_steps(
                        batches, self.dist.world / max(global_pairs, 1.0)))
                    dpo_sums = [v / max(global_pairs, 1.0) for v in dpo_sums]
                for number, (batch, weight) in enumerate([] if self.dpo else batches, start=1):
                    with self.dist.gradient_sync(enabled=number == len(batches)):
                        loss = self._loss(batch)
                        (loss * (weight * scale)).backward()
                    loss_sum += weight * float(loss.detach())
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
                lr = optimizer.param_groups[0]["lr"]
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step = step_index + 1
                elapsed = time.perf_counter() - began
                cpu_used = self.dist.sum([_cpu_seconds() - cpu_began])[0]
                (loss_total,) = self.dist.sum([loss_sum])
                totals["trained_tokens"] += global_trained
                totals["processed_tokens"] += global_tokens
                totals["train_seconds"] += elapsed
                totals["cpu_seconds"] += cpu_used
                metrics: dict[str, Any] = {
                    "loss": loss_total / max(global_trained, 1.0),
                    "learning_rate": lr,
                    "tokens_per_second": global_tokens / max(elapsed, 1e-9),
                    "trained_tokens_per_second": global_trained / max(elapsed, 1e-9),
                    "trained_tokens": int(totals["trained_tokens"]),
                    "epoch": step / max(1, math.ceil(len(self.train_examples) / cfg.batch_size)),
                }
                if self.dpo:
                    # TRL's names, so dashboards and habits carry over.
                    metrics.update({"loss": dpo_sums[0], "rewards/chosen": dpo_sums[1],
                                    "rewards/rejected": dpo_sums[2],
                                    "rewards/margins": dpo_sums[1] - dpo_sums[2],
                                    "rewards/accuracies": dpo_sums[3]})
                if step % eval_every == 0 or step == total_steps:
                    eval_loss = self.evaluate()
                    if eval_loss is not None:
                        metrics["eval_loss"] = eval_loss
                preference = (f" margin {metrics['rewards/margins']:.4f} accuracy "
                              f"{metrics['rewards/accuracies']:.2f}" if self.dpo else "")
                self.event(f"step {step}/{total_steps} loss {metrics['loss']:.4f}{preference}",
                           type="metrics", step=step, **metrics)
                self.status(step=step, trained_tokens=int(totals["trained_tokens"]),
                            last_loss=metrics["loss"], eval_loss=metrics.get("eval_loss"))
                self.log(f"step {step}/{total_steps} loss {metrics['loss']:.4f} "
                         f"tok/s {metrics['tokens_per_second']:.0f}")
                if self.wandb_run is not None:
                    self.wandb_run.log(metrics, step=step)
                if step % save_every == 0 and step < total_steps:
                    self.save_checkpoint(step, optimizer, scheduler, totals)
                if _STEP_DELAY:
                    time.sleep(_STEP_DELAY)  # debugging aid: makes runs slow enough to watch
        except Stopped:
            self._stopped(step, optimizer, scheduler, totals)
            return
        self._finish(step, totals)

    def _rank_checksums(self) -> list[float] | None:
        """A checksum of every rank's replica of the trainable weights (all must be equal).

        ``None`` under FSDP, where no rank holds a replica.
        """
        if self.dist.sharded:
            return None
        local = float(sum(float(p.detach().double().abs().sum()) + float(p.detach().double().sum())
                          for p in self.params))
        return self.dist.gather(local)

    def _stopped(self, step: int, optimizer: Any, scheduler: Any,
                 totals: dict[str, float]) -> None:
        if self.rd.cancel_path.exists():
            self.status(status="cancelled", finished_at=utcnow().isoformat(), step=step)
            self.event("Cancelled", type="status", step=step)
            return
        # SIGTERM without a cancel request (pre-emption, Ctrl-C): keep the work.
        if step > 0:
            self.save_checkpoint(step, optimizer, scheduler, totals)
        self.status(status="interrupted", step=step)
        self.event(f"Interrupted at step {step}; resume with client.resume(job)",
                   type="status", level="warning", step=step)

    def _finish(self, step: int, totals: dict[str, float]) -> None:
        import torch

        cfg = self.config
        checksums = self._rank_checksums()
        full_state = self.dist.full_model_state(drop_tied=True) if self.dist.sharded else None
        if self.dist.is_main:
            if cfg.method == "full":
                self.model.save_pretrained(self.rd.model_dir, state_dict=full_state)
                self.tokenizer.save_pretrained(self.rd.model_dir)
            else:
                self.model.save_pretrained(self.rd.adapter_dir)
                self.tokenizer.save_pretrained(self.rd.adapter_dir)
                if cfg.merge:
                    merged = self.model.merge_and_unload()
                    merged.config._attn_implementation = "sdpa"
                    merged.save_pretrained(self.rd.model_dir)
                    self.tokenizer.save_pretrained(self.rd.model_dir)
        gpu_name = (torch.cuda.get_device_name(self.device)
                    if self.device.type == "cuda" else None)
        cost, basis = run_cost_usd(device=self.device.type, gpu_name=gpu_name,
                                   n_devices=self.dist.world,
                                   wall_seconds=totals["train_seconds"],
                                   cpu_seconds=totals["cpu_seconds"])
        seconds = totals["train_seconds"]
        throughput = {
            "job_id": cfg.job_id,
            "model": cfg.model,
            "params": self.n_params,
            # dpo-*: the cost engine reads its own FLOPs factor for measured DPO throughput.
            "method": f"dpo-{cfg.method}" if self.dpo else cfg.method,
            "device": self.device.type,
            "gpu_name": gpu_name,
            "n_devices": self.dist.world,
            "distributed": self.dist.strategy,
            "dtype": self.precision if self.precision != "no" else "fp32",
            # Per device: the cost engine divides by one GPU's peak FLOPS for its MFU.
            "tokens_per_second": totals["processed_tokens"] / max(seconds, 1e-9) / self.dist.world,
            "total_tokens_per_second": totals["processed_tokens"] / max(seconds, 1e-9),
            "trained_tokens_per_second": totals["trained_tokens"] / max(seconds, 1e-9),
            "processed_tokens": int(totals["processed_tokens"]),
            "trained_tokens": int(totals["trained_tokens"]),
            "seconds": seconds,
            # This process's peak memory (the main rank's under a launcher), for sizing runs.
            "peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "finished_at": utcnow().isoformat(),
        }
        if self.dist.is_main:
            record_throughput(throughput)
        self.status(status="succeeded", phase="done", finished_at=utcnow().isoformat(),
                    step=step, trained_tokens=int(totals["trained_tokens"]),
                    actual_cost_usd=str(cost) if cost is not None else None,
                    cost_basis=basis, throughput=throughput,
                    adapter_path=str(self.rd.adapter_dir) if cfg.method != "full" else None,
                    model_path=str(self.rd.model_dir)
                    if (cfg.method == "full" or cfg.merge) else None,
                    resolved_model_path=self.model_path, rank_checksums=checksums)
        self.event(f"Succeeded: {int(totals['trained_tokens']):,} trained tokens in "
                   f"{seconds:.1f} s ({throughput['total_tokens_per_second']:.0f} tok/s); {basis}",
                   type="status", step=step, throughput=throughput)
        if self.wandb_run is not None:
            self.wandb_run.finish()
            self.wandb_run = None


def run_training(run_dir: Path, *, resume: bool = False) -> int:
    """Train the run in ``run_dir``; returns the process exit code."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    rd = RunDir(run_dir)
    run: _Run | None = None
    try:
        run = _Run(rd, resume)
        run.setup()
        run.train()
        return 0
    except Exception as exc:
        is_main = run is None or run.dist.is_main
        if is_main:
            message = str(exc) if isinstance(exc, TuneportError) else f"{type(exc).__name__}: {exc}"
            rd.update_status(status="failed", finished_at=utcnow().isoformat(),
                             error={"code": type(exc).__name__, "message": message})
            rd.append_event(f"Failed: {message}", type="status", level="error",
                            traceback=traceback.format_exc(limit=20))
        traceback.print_exc()
        return 1
    finally:
        if run is not None:
            if run.wandb_run is not None:
                run.wandb_run.finish(exit_code=1)
            run.dist.close()
