"""Dated, schema-checked catalogs of providers, models, prices, limits and GPUs.

The data lives in ``providers/*.toml`` (shipped in the wheel); a user override directory
(``TUNEPORT_CATALOG_DIR``) is merged in entry by entry and never written.

>>> from tuneport.catalog import load_catalog
>>> cat = load_catalog()
>>> m = cat.resolve_model("together", "llama-3.1-8b-instruct")
>>> m.methods["sft-lora"].usd_per_1m
Decimal('0.48')
"""

from __future__ import annotations

from tuneport.catalog._catalog import (
    STALE_AFTER_DAYS,
    Catalog,
    UnknownGpuError,
    clear_catalog_cache,
    load_catalog,
    method_key,
)
from tuneport.catalog._loader import CATALOG_DIR_ENV, builtin_data_dir, default_override_dir
from tuneport.catalog._schema import (
    METHOD_KEYS,
    ComputeDefaults,
    DatasetLimits,
    FlopsFactor,
    GpuEntry,
    GpuPrice,
    MemoryModel,
    MethodPrice,
    MfuRange,
    ModelEntry,
    PriceTier,
    ProviderCatalog,
    ServingOption,
    ServingPrice,
)

__all__ = [
    "CATALOG_DIR_ENV",
    "METHOD_KEYS",
    "STALE_AFTER_DAYS",
    "Catalog",
    "ComputeDefaults",
    "DatasetLimits",
    "FlopsFactor",
    "GpuEntry",
    "GpuPrice",
    "MemoryModel",
    "MethodPrice",
    "MfuRange",
    "ModelEntry",
    "PriceTier",
    "ProviderCatalog",
    "ServingOption",
    "ServingPrice",
    "UnknownGpuError",
    "builtin_data_dir",
    "clear_catalog_cache",
    "default_override_dir",
    "load_catalog",
    "method_key",
]
