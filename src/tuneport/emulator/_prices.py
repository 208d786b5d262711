"""The emulator's own training price table, USD per 1M trained tokens.

Written out here from the providers' published price tables, independently of tuneport's
catalog (``providers/*.toml``): the emulator is an oracle for tuneport's cost figures, so it
must not read them, or a catalog mistake would be checked against itself. A test compares
the two transcriptions (``tests/emulator/test_prices.py``); where they differ one of them
is wrong. A caller can pass its own lookup through ``EmulatorConfig.price_per_million``.

Sources (as of each table's date):

* Together: together.ai/pricing fine-tuning table, third-party copy ~2026-02, and
  docs.together.ai/docs/fine-tuning/pricing; total parameters decide the tier.
* Fireworks: fireworks.ai/pricing copy 2026-10-08 and the docs cost estimator's
  ``managedRates`` (docs.fireworks.ai/fine-tuning/cost-estimator); DPO and full-parameter
  twice the LoRA SFT rate, full DPO four times.
* OpenAI: openai.com/api/pricing fine-tuning training rates (copy after 2025-08-07).
"""

from __future__ import annotations

import re

__all__ = ["PRICE_TABLE_AS_OF", "fixed_price_per_million", "size_billions"]

PRICE_TABLE_AS_OF = {"together": "2026-02-15", "fireworks": "2026-10-08",
                     "openai": "2025-08-07"}

# (upper bound in billions of total parameters or None for "the rest",
#  {method: USD per 1M tokens}); smallest tier first.
_Tier = tuple[float | None, dict[str, float]]

_TOGETHER_TIERS: list[_Tier] = [
    (16.0, {"lora": 0.48, "full": 0.54, "dpo-lora": 1.20, "dpo-full": 1.35}),
    (69.99, {"lora": 1.50, "full": 1.65, "dpo-lora": 3.75, "dpo-full": 4.12}),
    (100.0, {"lora": 2.90, "full": 3.20, "dpo-lora": 7.25, "dpo-full": 8.00}),
]
# Models priced on their own row of Together's table (large MoE, LoRA only).
_TOGETHER_MODELS: dict[str, dict[str, float]] = {
    "qwen/qwen3-235b-a22b": {"lora": 6.00, "dpo-lora": 15.00},
}
_FIREWORKS_TIERS: list[_Tier] = [
    (16.0, {"lora": 0.50, "dpo-lora": 1.00, "full": 1.00, "dpo-full": 2.00}),
    (80.0, {"lora": 3.00, "dpo-lora": 6.00, "full": 6.00, "dpo-full": 12.00}),
    (300.0, {"lora": 6.00, "dpo-lora": 12.00, "full": 12.00, "dpo-full": 24.00}),
    (None, {"lora": 10.00, "dpo-lora": 20.00, "full": 20.00, "dpo-full": 40.00}),
]
# OpenAI prices each base model (training only; the family name is matched as a prefix).
_OPENAI_MODELS: dict[str, float] = {
    "gpt-4.1-nano": 1.50, "gpt-4.1-mini": 5.00, "gpt-4.1": 25.00,
    "gpt-4o-mini": 3.00, "gpt-4o": 25.00, "gpt-3.5-turbo": 8.00,
    "davinci-002": 6.00, "babbage-002": 0.40,
}
# Total parameters of models whose id does not say it (a mixture of experts names its
# experts, not its total).
_TOTAL_BILLIONS = {"mixtral-8x7b": 46.7, "mixtral-8x22b": 141.0}

# "8b", "70B", "3p2b" (Fireworks writes 3.2 as 3p2), "1.5b" in a model id.
_SIZE = re.compile(r"(?<![x\d])(\d+(?:[.p]\d+)?)b", re.IGNORECASE)


def size_billions(model: str) -> float | None:
    """Total parameters (billions) read from a model id, or ``None`` when it does not say."""
    name = model.rsplit("/", 1)[-1].lower()
    for family, total in _TOTAL_BILLIONS.items():
        if family in name:
            return total
    sizes = [float(m.replace("p", ".")) for m in _SIZE.findall(name)]
    return max(sizes) if sizes else None


def _method(method: str) -> str:
    # Accept the catalog's spellings too (sft-lora, dpo-full, ...).
    return {"sft-lora": "lora", "sft-full": "full", "sft-qlora": "lora"}.get(method, method)


def _tiered(tiers: list[_Tier], size: float | None, method: str) -> float:
    if size is None:
        size = 0.0  # an id without a size bills at the smallest tier
    for bound, prices in tiers:
        if bound is None or size <= bound:
            return prices.get(method, 0.0)
    return tiers[-1][1].get(method, 0.0)


def fixed_price_per_million(provider: str, model: str, method: str) -> float:
    """The emulator's price per 1M trained tokens for ``model`` trained with ``method``.

    Args:
        provider: ``openai``, ``together`` or ``fireworks``.
        model: the provider's own model id.
        method: ``lora``, ``full``, ``dpo-lora`` or ``dpo-full`` (catalog keys such as
            ``sft-lora`` are accepted).

    Returns:
        USD per 1M tokens; 0.0 for a provider, model or method the table does not price
        (the job then reports no charge rather than failing).
    """
    key = _method(method)
    if provider == "together":
        own = _TOGETHER_MODELS.get(model.lower())
        if own is not None:
            return own.get(key, 0.0)
        return _tiered(_TOGETHER_TIERS, size_billions(model), key)
    if provider == "fireworks":
        return _tiered(_FIREWORKS_TIERS, size_billions(model), key)
    if provider == "openai":
        name = model.removeprefix("ft:")
        for family in sorted(_OPENAI_MODELS, key=len, reverse=True):
            if name.startswith(family):
                return _OPENAI_MODELS[family]
    return 0.0
