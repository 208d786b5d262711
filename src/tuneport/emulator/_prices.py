"""Training prices the emulator bills jobs at, USD per 1M trained tokens, from the catalog.

The prices are tuneport's catalog data (``providers/*.toml`` merged with the user's
``TUNEPORT_CATALOG_DIR`` overrides), so an emulated job costs what tuneport's estimates say
it costs. Only the catalog's data is read: no adapter, dataset or renderer code. A caller can
pass its own lookup through ``EmulatorConfig.price_per_million``.
"""

from __future__ import annotations

import re

from tuneport.catalog import PriceTier, load_catalog, method_key

__all__ = ["catalog_price_per_million"]

# "8b", "70B", "3p2b" (Fireworks writes 3.2 as 3p2), "1.5b" in a model id.
_SIZE = re.compile(r"(\d+(?:[.p]\d+)?)b", re.IGNORECASE)


def _billions(model: str) -> float | None:
    sizes = [float(m.replace("p", ".")) for m in _SIZE.findall(model.rsplit("/", 1)[-1])]
    return max(sizes) if sizes else None


def _tier(tiers: tuple[PriceTier, ...], size: float | None) -> PriceTier | None:
    # Tiers go by total parameters, smallest first; a tier without an upper bound takes the
    # rest. A size beyond every tier gets the largest; an unknown size the smallest.
    ordered = sorted(tiers, key=lambda t: float("inf") if t.max_params_b is None
                     else t.max_params_b)
    if not ordered:
        return None
    if size is None:
        return ordered[0]
    for tier in ordered:
        if tier.max_params_b is None or size <= tier.max_params_b:
            return tier
    return ordered[-1]


def catalog_price_per_million(provider: str, model: str, method: str) -> float:
    """The catalog's price per 1M trained tokens for ``model`` trained with ``method``.

    A model the catalog lists gets its own price; one it does not (or a method the entry
    lacks) gets the provider's size-tier price for the size in its id (``...-8B-...``).

    Args:
        provider: ``openai``, ``together`` or ``fireworks``.
        model: the provider's own model id (or any name the catalog resolves).
        method: ``lora``, ``full``, ``dpo-lora`` or ``dpo-full``.

    Returns:
        USD per 1M tokens; 0.0 when the catalog has no price for it at all (the job then
        reports no charge rather than failing).

    Raises:
        CatalogError: the catalog (or an override file) is malformed.
    """
    from tuneport._exceptions import UnknownModelError

    key = method_key(method)
    catalog = load_catalog()
    pc = catalog.provider(provider)
    size = _billions(model)
    try:
        entry = catalog.resolve_model(provider, model)
    except UnknownModelError:
        pass
    else:
        if key in entry.methods:
            return float(entry.methods[key].usd_per_1m)
        size = entry.params_b if entry.params_b is not None else size
    tier = _tier(pc.tiers, size)
    if tier is not None and key in tier.prices:
        return float(tier.prices[key])
    return 0.0
