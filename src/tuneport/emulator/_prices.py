"""Training prices the emulator bills jobs at, USD per 1M trained tokens.

Dated figures from the providers' price pages (see ``shared/reference/providers.md``
§1.9, §2.7, §3.5). A caller can pass its own lookup (for instance one backed by
tuneport's catalog) through ``EmulatorConfig.price_per_million``.
"""

from __future__ import annotations

import re

__all__ = ["AS_OF", "default_price_per_million"]

AS_OF = "2026-10-08"

_OPENAI = {
    "gpt-4.1-2025-04-14": 25.0,
    "gpt-4.1-mini-2025-04-14": 5.0,
    "gpt-4.1-nano-2025-04-14": 1.5,
    "gpt-4o-2024-08-06": 25.0,
    "gpt-4o-mini-2024-07-18": 3.0,
    "gpt-3.5-turbo": 8.0,
}
# (max billions of params, lora sft, full sft, lora dpo, full dpo)
_TOGETHER = ((16, 0.48, 0.54, 1.20, 1.35), (69, 1.50, 1.65, 3.75, 4.12),
             (1e9, 2.90, 3.20, 7.25, 8.00))
_FIREWORKS = ((16, 0.50, 1.00, 1.00, 2.00), (80, 3.00, 6.00, 6.00, 12.00),
              (300, 6.00, 12.00, 12.00, 24.00), (1e9, 10.00, 20.00, 20.00, 40.00))
_SIZE = re.compile(r"(\d+(?:[.p]\d+)?)b", re.IGNORECASE)


def _billions(model: str) -> float:
    sizes = [float(m.replace("p", ".")) for m in _SIZE.findall(model)]
    return max(sizes) if sizes else 8.0


def default_price_per_million(provider: str, model: str, method: str) -> float:
    """The price per 1M trained tokens for ``model`` trained with ``method``.

    Args:
        provider: ``openai``, ``together`` or ``fireworks``.
        model: the provider's own model id.
        method: ``lora``, ``full``, ``dpo-lora`` or ``dpo-full``.
    """
    if provider == "openai":
        # OpenAI bills DPO at the same per-token rate as supervised training.
        return next((p for name, p in _OPENAI.items() if model.startswith(name)), 3.0)
    table = _TOGETHER if provider == "together" else _FIREWORKS
    size = _billions(model)
    row = next(r for r in table if size <= r[0])
    column = {"lora": 1, "full": 2, "dpo-lora": 3, "dpo-full": 4}.get(method, 1)
    return float(row[column])
