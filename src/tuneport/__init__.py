"""tuneport: one dataset, validated once, fine-tuned anywhere.

Submit the same dataset to OpenAI, Together AI or Fireworks AI managed fine-tuning, or to a
local PEFT backend, and get the same :class:`Job`, :class:`CostEstimate` and
:class:`ModelEndpoint` objects back::

    import tuneport

    client = tuneport.Client(provider="together")
    ds = tuneport.Dataset.from_jsonl("support.jsonl")
    print(client.compare(ds, model="llama-3.1-8b-instruct"))
    job = client.wait(client.fine_tune(ds, model="llama-3.1-8b-instruct", epochs=3))
    endpoint = client.endpoint(job)

Importing tuneport stays light: torch, transformers, peft and the provider SDKs load only
when a feature that needs them is used. Names below are resolved on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tuneport._exceptions import (
    AuthenticationError,
    BadRequestError,
    CatalogError,
    ConfigError,
    ConflictError,
    DatasetError,
    DoesNotFitError,
    JobError,
    JobFailedError,
    JobTimeoutError,
    LocalBackendError,
    MissingCredentialsError,
    NotFoundError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitError,
    ServerError,
    TransportError,
    TuneportError,
    UnknownModelError,
    UnknownProviderError,
    UnsupportedFeatureError,
    ValidationFailedError,
)
from tuneport._models import (
    Capability,
    Checkpoint,
    EndpointState,
    FineTuneSpec,
    Job,
    JobEvent,
    JobStatus,
    MetricPoint,
    ModelEndpoint,
    WandbConfig,
)

if TYPE_CHECKING:
    # What type checkers see of the lazy names (``X as X``: re-exported); the runtime
    # reads the same names from _LAZY, and tests/test_import.py checks the two agree.
    from tuneport._config import RetryPolicy as RetryPolicy
    from tuneport._config import Settings as Settings
    from tuneport._config import load_settings as load_settings
    from tuneport.client.client import AsyncClient as AsyncClient
    from tuneport.client.client import Client as Client
    from tuneport.client.client import ProviderAvailabilityWarning as ProviderAvailabilityWarning
    from tuneport.cost import Comparison as Comparison
    from tuneport.cost import CostEstimate as CostEstimate
    from tuneport.cost import compare as compare
    from tuneport.dataset import Dataset as Dataset
    from tuneport.dataset import Issue as Issue
    from tuneport.dataset import TokenStats as TokenStats
    from tuneport.dataset import ValidationReport as ValidationReport
    from tuneport.dataset import count_tokens as count_tokens
    from tuneport.ledger import Ledger as Ledger
    from tuneport.providers.base import Provider as Provider
    from tuneport.providers.base import ProviderQuote as ProviderQuote
    from tuneport.providers.base import UnknownStatusWarning as UnknownStatusWarning
    from tuneport.providers.registry import available_providers as available_providers
    from tuneport.providers.registry import register_provider as register_provider

__version__ = "0.1.0"

# Public names that live in heavier modules, by module, imported on first access (PEP 562).
# The one runtime list of them: __all__ and __getattr__ are derived from it.
_LAZY_BY_MODULE: dict[str, tuple[str, ...]] = {
    "tuneport._config": ("RetryPolicy", "Settings", "load_settings"),
    "tuneport.client.client": ("AsyncClient", "Client", "ProviderAvailabilityWarning"),
    "tuneport.cost": ("Comparison", "CostEstimate", "compare"),
    "tuneport.dataset": ("Dataset", "Issue", "TokenStats", "ValidationReport", "count_tokens"),
    "tuneport.ledger": ("Ledger",),
    "tuneport.providers.base": ("Provider", "ProviderQuote", "UnknownStatusWarning"),
    "tuneport.providers.registry": ("available_providers", "register_provider"),
}
_LAZY: dict[str, str] = {
    name: module for module, names in _LAZY_BY_MODULE.items() for name in names
}

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "Capability",
    "CatalogError",
    "Checkpoint",
    "ConfigError",
    "ConflictError",
    "DatasetError",
    "DoesNotFitError",
    "EndpointState",
    "FineTuneSpec",
    "Job",
    "JobError",
    "JobEvent",
    "JobFailedError",
    "JobStatus",
    "JobTimeoutError",
    "LocalBackendError",
    "MetricPoint",
    "MissingCredentialsError",
    "ModelEndpoint",
    "NotFoundError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "TuneportError",
    "UnknownModelError",
    "UnknownProviderError",
    "UnsupportedFeatureError",
    "ValidationFailedError",
    "WandbConfig",
    "__version__",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tuneport' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
