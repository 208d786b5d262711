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
    from tuneport._config import RetryPolicy, Settings, load_settings
    from tuneport.client.client import AsyncClient, Client, ProviderAvailabilityWarning
    from tuneport.cost import Comparison, CostEstimate, compare
    from tuneport.dataset import Dataset, Issue, TokenStats, ValidationReport, count_tokens
    from tuneport.ledger import Ledger
    from tuneport.providers.base import Provider, ProviderQuote, UnknownStatusWarning
    from tuneport.providers.registry import available_providers, register_provider

__version__ = "0.1.0"

# Public names that live in heavier modules, imported on first access (PEP 562).
_LAZY: dict[str, str] = {
    "Client": "tuneport.client.client",
    "AsyncClient": "tuneport.client.client",
    "ProviderAvailabilityWarning": "tuneport.client.client",
    "RetryPolicy": "tuneport._config",
    "Settings": "tuneport._config",
    "load_settings": "tuneport._config",
    "Dataset": "tuneport.dataset",
    "ValidationReport": "tuneport.dataset",
    "Issue": "tuneport.dataset",
    "TokenStats": "tuneport.dataset",
    "count_tokens": "tuneport.dataset",
    "CostEstimate": "tuneport.cost",
    "Comparison": "tuneport.cost",
    "compare": "tuneport.cost",
    "Provider": "tuneport.providers.base",
    "ProviderQuote": "tuneport.providers.base",
    "UnknownStatusWarning": "tuneport.providers.base",
    "Ledger": "tuneport.ledger",
    "available_providers": "tuneport.providers.registry",
    "register_provider": "tuneport.providers.registry",
}

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Capability",
    "CatalogError",
    "Checkpoint",
    "Client",
    "Comparison",
    "ConfigError",
    "ConflictError",
    "CostEstimate",
    "Dataset",
    "DatasetError",
    "DoesNotFitError",
    "EndpointState",
    "FineTuneSpec",
    "Issue",
    "Job",
    "JobError",
    "JobEvent",
    "JobFailedError",
    "JobStatus",
    "JobTimeoutError",
    "Ledger",
    "LocalBackendError",
    "MetricPoint",
    "MissingCredentialsError",
    "ModelEndpoint",
    "NotFoundError",
    "Provider",
    "ProviderAvailabilityWarning",
    "ProviderError",
    "ProviderQuote",
    "ProviderUnavailableError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "TokenStats",
    "TransportError",
    "TuneportError",
    "UnknownModelError",
    "UnknownProviderError",
    "UnknownStatusWarning",
    "UnsupportedFeatureError",
    "ValidationFailedError",
    "ValidationReport",
    "WandbConfig",
    "__version__",
    "available_providers",
    "compare",
    "count_tokens",
    "load_settings",
    "register_provider",
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
