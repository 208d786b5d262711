"""The one schema every catalog file is checked against, and the resolved entries code uses.

Two layers:

* file models (``ProviderFile``, ``GpuFile``) mirror the TOML as written: size tiers, price
  tables that inherit ``as_of``/``source`` from their tier, method lists. ``extra="forbid"``
  everywhere so a typo in a key is an error, not a silently ignored price.
* resolved models (``ModelEntry``, ``ProviderCatalog``) are what the rest of tuneport reads:
  every model carries a ``MethodPrice`` per method it offers, each with its own date and source.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "METHOD_KEYS",
    "ComputeDefaults",
    "DatasetLimits",
    "FlopsFactor",
    "GpuEntry",
    "GpuFile",
    "GpuPrice",
    "MemoryModel",
    "MethodKey",
    "MethodPrice",
    "MfuRange",
    "ModelEntry",
    "ModelSpec",
    "OverheadMinutes",
    "PriceTier",
    "ProviderCatalog",
    "ProviderFile",
    "ProviderInfo",
    "ServingOption",
    "ServingPrice",
]

MethodKey = Literal["sft-lora", "sft-full", "sft-qlora", "dpo-lora", "dpo-full"]
METHOD_KEYS: tuple[str, ...] = ("sft-lora", "sft-full", "sft-qlora", "dpo-lora", "dpo-full")
DataFormat = Literal["chat", "completion", "text", "preference"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MethodPrice(_Strict):
    """Training price of one method on one model.

    Attributes:
        usd_per_1m: USD per 1M billed training tokens.
        min_charge_usd: minimum charge per job, if the provider has one.
        min_charge_confirmed: False when the minimum rests on an old or unsure source; the
            cost engine then leaves it out of the low end of the range.
        as_of: when the price was copied.
        source: where it was copied from.
        tier: the size tier the price comes from, if any.
    """

    usd_per_1m: Decimal = Field(ge=0)
    min_charge_usd: Decimal | None = Field(default=None, ge=0)
    min_charge_confirmed: bool = True
    as_of: date
    source: str = Field(min_length=1)
    tier: str | None = None


class DatasetLimits(_Strict):
    """What a provider accepts in a training file. ``None`` means no known limit."""

    min_examples: int = Field(default=1, ge=1)
    max_examples: int | None = Field(default=None, ge=1)
    max_examples_times_epochs: int | None = Field(default=None, ge=1)
    max_file_bytes: int | None = Field(default=None, ge=1)
    formats: tuple[DataFormat, ...] = ("chat",)
    roles: tuple[str, ...] = ("system", "user", "assistant")
    supports_tools: bool = False
    supports_weights: bool = False
    system_first: bool = False
    requires_alternation: bool = False
    max_tokens_per_example: int | None = Field(default=None, ge=1)
    as_of: date
    source: str = Field(min_length=1)


class ServingOption(_Strict):
    """One hardware choice for dedicated serving."""

    gpu: str
    usd_per_hour: Decimal = Field(ge=0)


class ServingPrice(_Strict):
    """How using the fine-tuned model is billed: per token (serverless) or per GPU-hour."""

    kind: Literal["per_1m_tokens", "per_gpu_hour"]
    input_usd_per_1m: Decimal | None = Field(default=None, ge=0)
    cached_input_usd_per_1m: Decimal | None = Field(default=None, ge=0)
    output_usd_per_1m: Decimal | None = Field(default=None, ge=0)
    options: tuple[ServingOption, ...] = ()
    billing_granularity: str | None = None
    as_of: date
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> ServingPrice:
        if self.kind == "per_1m_tokens" and (
            self.input_usd_per_1m is None or self.output_usd_per_1m is None
        ):
            raise ValueError("per_1m_tokens serving needs input_usd_per_1m and output_usd_per_1m")
        if self.kind == "per_gpu_hour" and not self.options:
            raise ValueError("per_gpu_hour serving needs at least one entry in options")
        return self

    def cheapest_option(self) -> ServingOption | None:
        """The cheapest dedicated hardware, for per-GPU-hour serving."""
        return min(self.options, key=lambda o: o.usd_per_hour) if self.options else None


class ProviderInfo(_Strict):
    """The ``[provider]`` table."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    display_name: str
    kind: Literal["hosted", "local"]
    as_of: date
    source: str = Field(min_length=1)
    default_epochs: int | Literal["auto"] = 1
    validation_billing: Literal["not_billed", "per_eval", "as_training"] = "not_billed"
    estimate_range: tuple[float, float] = (1.0, 1.0)
    new_jobs_until: date | None = None
    availability_note: str | None = None
    availability_source: str | None = None
    unsupported: dict[str, str] = Field(default_factory=dict)
    serving: ServingPrice | None = None

    @field_validator("estimate_range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 < low <= 1.0 <= high:
            raise ValueError("estimate_range must be [low, high] with 0 < low <= 1 <= high")
        return value


class PriceTier(_Strict):
    """A size tier ("up to 16B") whose prices every model of that size gets."""

    name: str
    max_params_b: float | None = Field(default=None, gt=0)
    prices: dict[MethodKey, Decimal]
    min_charge_usd: Decimal | None = Field(default=None, ge=0)
    min_charge_confirmed: bool = True
    as_of: date
    source: str = Field(min_length=1)


class ModelSpec(_Strict):
    """A ``[[models]]`` entry as written in a provider file."""

    canonical: str = Field(min_length=1)
    id: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    tokenizer: str = "approx"
    hf_id: str | None = None
    params_b: float | None = Field(default=None, gt=0)
    active_params_b: float | None = Field(default=None, gt=0)
    context_length: int | None = Field(default=None, ge=1)
    max_tokens_per_example: int | None = Field(default=None, ge=1)
    # Where the training limit comes from (it is not the inference context_length).
    max_tokens_source: str | None = None
    # Where the provider's model id was checked, and when (text: "<source>, <date>").
    id_source: str | None = None
    methods: tuple[MethodKey, ...]
    tier: str | None = None
    prices: dict[MethodKey, Decimal] = Field(default_factory=dict)
    min_charge_usd: Decimal | None = Field(default=None, ge=0)
    as_of: date | None = None
    source: str | None = None
    training_available_until: date | None = None
    shutdown_date: date | None = None
    serving: ServingPrice | None = None
    notes: tuple[str, ...] = ()

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer_form(cls, value: str) -> str:
        if value != "approx" and not value.startswith(("tiktoken:", "hf:")):
            raise ValueError("tokenizer must be 'approx', 'tiktoken:<encoding>' or 'hf:<repo id>'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.prices and (self.as_of is None or not self.source):
            raise ValueError(f"model {self.canonical!r}: explicit prices need as_of and source")
        if (
            self.active_params_b is not None
            and self.params_b is not None
            and self.active_params_b > self.params_b
        ):
            raise ValueError(f"model {self.canonical!r}: active_params_b exceeds params_b")
        return self


class FlopsFactor(_Strict):
    """FLOPs per parameter per token for one method."""

    k: float = Field(gt=0)
    source: str = Field(min_length=1)


class MfuRange(_Strict):
    """Achieved model-FLOPs utilisation (fraction of the dense peak)."""

    low: float = Field(gt=0, le=1)
    expected: float = Field(gt=0, le=1)
    high: float = Field(gt=0, le=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> MfuRange:
        if not self.low <= self.expected <= self.high:
            raise ValueError("MFU must satisfy low <= expected <= high")
        return self


class OverheadMinutes(_Strict):
    """Fixed per-job overhead in minutes (start-up, download, checkpoints)."""

    low: float = Field(ge=0)
    expected: float = Field(ge=0)
    high: float = Field(ge=0)
    source: str = Field(min_length=1)


class MemoryModel(_Strict):
    """Constants of the per-GPU memory estimate."""

    usable_fraction: float = Field(gt=0, le=1)
    fixed_gb: float = Field(ge=0)
    activation_fraction: float = Field(ge=0)
    state_bytes_per_param: dict[MethodKey, float]
    source: str = Field(min_length=1)


class ComputeDefaults(_Strict):
    """The self-hosted compute model's constants (``[compute]`` in ``local.toml``)."""

    as_of: date
    source: str = Field(min_length=1)
    flops_per_token: dict[MethodKey, FlopsFactor]
    mfu: dict[MethodKey, MfuRange]
    overhead_minutes: OverheadMinutes
    memory: MemoryModel


class ProviderFile(_Strict):
    """One ``providers/<name>.toml`` file."""

    schema_version: Literal[1] = 1
    provider: ProviderInfo
    limits: DatasetLimits
    tiers: tuple[PriceTier, ...] = ()
    models: tuple[ModelSpec, ...] = ()
    compute: ComputeDefaults | None = None


class GpuPrice(_Strict):
    """An on-demand offer of one GPU type at one cloud."""

    cloud: str = Field(min_length=1)
    usd_per_hour: Decimal = Field(gt=0)
    as_of: date
    source: str = Field(min_length=1)
    instance: str | None = None
    min_gpus: int = Field(default=1, ge=1)


class GpuEntry(_Strict):
    """A GPU type: memory, dense BF16 peak and where to rent it."""

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    memory_gb: float = Field(gt=0)
    peak_bf16_tflops: float = Field(gt=0)
    peak_source: str = Field(min_length=1)
    prices: tuple[GpuPrice, ...] = ()


class GpuFile(_Strict):
    """``providers/gpus.toml``."""

    schema_version: Literal[1] = 1
    gpus: tuple[GpuEntry, ...]


# ---------------------------------------------------------------------------------------------
# Resolved entries


class ModelEntry(_Strict):
    """A tunable base model at one provider, with everything priced and dated.

    Attributes:
        canonical: the name shared across providers (``llama-3.1-8b-instruct``).
        id: the provider's own id for it.
        provider: the provider's name.
        params_b: total parameters in billions (None when unknown, e.g. an unlisted local model).
        active_params_b: parameters active per token (MoE); equals ``params_b`` for dense models.
        context_length: the model's inference context (what a served model reads).
        max_tokens_per_example: the training limit per example: tokens after which an
            example is truncated (or rejected). Separate from ``context_length``: a provider
            may train at less than the model serves (Together trains Qwen3-30B-A3B at 8K).
        max_tokens_source: where the training limit comes from.
        id_source: where the provider's id was checked, and when.
        tokenizer: ``tiktoken:<encoding>``, ``hf:<repo id or path>`` or ``approx``.
        methods: method key (``sft-lora`` ...) to its training price.
        unsupported: method key to the reason it is not offered.
        known: False for an entry synthesized for an unlisted local model.
    """

    canonical: str
    id: str
    provider: str
    aliases: tuple[str, ...] = ()
    params_b: float | None = None
    active_params_b: float | None = None
    context_length: int | None = None
    max_tokens_per_example: int | None = None
    max_tokens_source: str | None = None
    id_source: str | None = None
    tokenizer: str = "approx"
    hf_id: str | None = None
    methods: dict[str, MethodPrice] = Field(default_factory=dict)
    unsupported: dict[str, str] = Field(default_factory=dict)
    serving: ServingPrice | None = None
    training_available_until: date | None = None
    shutdown_date: date | None = None
    notes: tuple[str, ...] = ()
    known: bool = True

    @property
    def is_moe(self) -> bool:
        """Whether fewer parameters are active per token than the model holds."""
        return (
            self.params_b is not None
            and self.active_params_b is not None
            and self.active_params_b < self.params_b
        )

    def names(self) -> tuple[str, ...]:
        """Every name this entry answers to."""
        return (self.canonical, self.id, *self.aliases)


class ProviderCatalog(_Strict):
    """One provider's resolved catalog: limits, models, serving, availability."""

    name: str
    display_name: str
    kind: Literal["hosted", "local"]
    as_of: date
    source: str
    default_epochs: int | Literal["auto"]
    validation_billing: Literal["not_billed", "per_eval", "as_training"]
    estimate_range: tuple[float, float]
    new_jobs_until: date | None = None
    availability_note: str | None = None
    availability_source: str | None = None
    unsupported: dict[str, str] = Field(default_factory=dict)
    serving: ServingPrice | None = None
    limits: DatasetLimits
    tiers: tuple[PriceTier, ...] = ()
    models: tuple[ModelEntry, ...] = ()
    compute: ComputeDefaults | None = None
