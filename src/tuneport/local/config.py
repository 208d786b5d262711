"""The resolved configuration of one local run (written to ``config.json``).

Built from a :class:`~tuneport._models.FineTuneSpec` plus ``provider_options``; every
default is filled in here so the run directory says exactly what was trained.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tuneport._exceptions import ConfigError, UnsupportedFeatureError
from tuneport._models import FineTuneSpec

__all__ = ["OPTION_NAMES", "TrainConfig", "config_from_spec"]


class TrainConfig(BaseModel):
    """Everything the trainer needs; secret-free (the wandb key travels in the environment)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str
    model: str
    method: Literal["lora", "full", "qlora"] = "lora"
    # "dpo": preference pairs and the DPO loss (method dpo-lora -> lora, dpo-full -> full).
    objective: Literal["sft", "dpo"] = "sft"
    beta: float = 0.1
    train_file: str
    validation_file: str | None = None
    idempotency_key: str | None = None
    epochs: int = 3
    learning_rate: float | None = None
    batch_size: int = 8
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: list[str] | str | None = None
    max_seq_len: int | None = None
    over_length: Literal["truncate", "drop"] = "truncate"
    tokens_per_micro_batch: int | None = None
    validation_split: float | None = None
    max_steps: int | None = None
    warmup_ratio: float = 0.05
    lr_scheduler: Literal["linear", "cosine", "constant"] = "linear"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    save_every: int | None = None
    eval_every: int | None = None
    keep_checkpoints: int = 2
    gradient_checkpointing: bool | None = None
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    merge: bool = False
    devices: int = 1
    distributed: Literal["auto", "ddp", "fsdp"] = "auto"
    launcher: Literal["torchrun", "accelerate"] = "torchrun"
    device: str | None = None
    seed: int = 42
    threads: int | None = None
    wandb: dict[str, Any] | None = None
    suffix: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)

    def effective_learning_rate(self) -> float:
        """The learning rate: given, else 2e-4 for LoRA/QLoRA and 2e-5 for full fine-tuning."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 2e-5 if self.method == "full" else 2e-4


# Options accepted in ``provider_options`` (or as keyword arguments of fine_tune).
OPTION_NAMES = frozenset(
    {
        "target_modules", "max_seq_len", "over_length", "tokens_per_micro_batch",
        "validation_split", "max_steps", "warmup_ratio", "lr_scheduler", "weight_decay",
        "max_grad_norm", "save_every", "eval_every", "keep_checkpoints",
        "gradient_checkpointing", "mixed_precision", "merge", "devices", "distributed",
        "launcher", "device", "threads",
    }
)


def config_from_spec(
    spec: FineTuneSpec,
    *,
    job_id: str,
    train_file: str,
    validation_file: str | None,
    idempotency_key: str | None,
) -> TrainConfig:
    """Resolve a spec into a TrainConfig; raise clear errors for what local cannot do."""
    options = dict(spec.provider_options)
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise ConfigError(
            f"Unknown local training option(s): {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(OPTION_NAMES))}."
        )
    epochs = spec.epochs if isinstance(spec.epochs, int) else 3
    batch_size = spec.batch_size if isinstance(spec.batch_size, int) else 8
    if epochs < 1 or batch_size < 1:
        raise ConfigError("epochs and batch_size must be at least 1.")
    values: dict[str, Any] = {
        "job_id": job_id,
        "model": spec.model,
        "method": {"dpo-lora": "lora", "dpo-full": "full"}.get(spec.method, spec.method),
        "objective": "dpo" if spec.method.startswith("dpo") else "sft",
        "train_file": train_file,
        "validation_file": validation_file,
        "idempotency_key": idempotency_key,
        "epochs": epochs,
        "learning_rate": spec.learning_rate,
        "batch_size": batch_size,
        "seed": spec.seed if spec.seed is not None else 42,
        "suffix": spec.suffix,
        "spec": spec.normalized(),
    }
    if spec.lora_rank is not None:
        values["lora_rank"] = spec.lora_rank
        alpha = spec.lora_alpha if spec.lora_alpha is not None else 2 * spec.lora_rank
        values["lora_alpha"] = alpha
    elif spec.lora_alpha is not None:
        values["lora_alpha"] = spec.lora_alpha
    if spec.lora_dropout is not None:
        values["lora_dropout"] = spec.lora_dropout
    if spec.beta is not None:
        values["beta"] = spec.beta
    if spec.wandb is not None:
        values["wandb"] = spec.wandb.model_dump(mode="json", exclude={"api_key"})
    # "auto" devices are resolved by the provider (it may look at the GPUs).
    if options.get("devices") in (None, "auto"):
        options.pop("devices", None)
    values.update(options)
    try:
        config = TrainConfig(**values)
    except ValueError as exc:
        raise ConfigError(f"Invalid local training option: {exc}") from exc
    if config.distributed == "fsdp" and config.method != "full":
        raise UnsupportedFeatureError(
            "distributed='fsdp' shards full fine-tuning; LoRA trains few parameters and "
            "runs with distributed='ddp' (the default for method='lora')."
        )
    return config
