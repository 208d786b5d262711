"""Which provider name means which adapter class.

Built-ins are dotted paths imported on first use, so ``import tuneport`` never imports
an SDK. Third-party adapters plug in through the entry-point group
``tuneport.providers`` (``myprov = "my_pkg.adapter:MyProvider"``), discovered lazily the
first time a name is not a built-in; a plugin never silently replaces a built-in.
:func:`register_provider` registers one at run time (``replace=True`` to override).
"""

from __future__ import annotations

import difflib
import importlib
import types
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from tuneport._exceptions import ConfigError, UnknownProviderError

if TYPE_CHECKING:
    from tuneport._config import ProviderSettings
    from tuneport.providers.base import Provider

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_providers",
    "get_provider",
    "get_provider_class",
    "provider_registry",
    "register_provider",
]

ENTRY_POINT_GROUP = "tuneport.providers"


@dataclass(frozen=True)
class _Entry:
    target: str | type[Provider]
    install_hint: str
    needs_api_key: bool = False


_BUILTINS: dict[str, _Entry] = {
    "fireworks": _Entry(
        "tuneport.providers.fireworks:FireworksProvider",
        "pip install 'tuneport[hosted]' (needs the fireworks-ai package)",
        needs_api_key=True,
    ),
    "local": _Entry(
        "tuneport.providers.local:LocalProvider",
        "pip install 'tuneport[local]' (needs torch, transformers and peft)",
    ),
    "openai": _Entry(
        "tuneport.providers.openai:OpenAIProvider",
        "pip install 'tuneport[hosted]' (needs the openai package)",
        needs_api_key=True,
    ),
    "together": _Entry(
        "tuneport.providers.together:TogetherProvider",
        "pip install 'tuneport[hosted]' (needs the together package)",
        needs_api_key=True,
    ),
}

# internal, mutable; the public view below is read-only
_registry: dict[str, _Entry] = dict(_BUILTINS)
_plugins_loaded = False

provider_registry: Mapping[str, _Entry] = types.MappingProxyType(_registry)
"""Read-only view of the registered names (built-ins, then plugins once discovered)."""


def register_provider(
    name: str,
    target: str | type[Provider],
    *,
    install_hint: str = "",
    replace: bool = False,
) -> None:
    """Register a provider class (or ``"module:Class"`` path) under ``name``.

    Raises:
        ConfigError: the name is taken and ``replace`` is false.
    """
    key = name.lower()
    if key in _registry and not replace:
        raise ConfigError(
            f"A provider named {name!r} is already registered; pass replace=True to override it."
        )
    _registry[key] = _Entry(target, install_hint or f"install the package that provides {name!r}")


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        # A plugin must not shadow a built-in or an explicit registration.
        if ep.name.lower() not in _registry:
            _registry[ep.name.lower()] = _Entry(
                ep.value, f"reinstall the package that provides the {ep.name!r} plugin"
            )


def available_providers() -> list[str]:
    """Every provider name tuneport knows, without importing any adapter."""
    _load_plugins()
    return sorted(_registry)


def _lookup(name: str) -> tuple[str, _Entry]:
    key = name.strip().lower()
    entry = _registry.get(key)
    if entry is None:
        _load_plugins()
        entry = _registry.get(key)
    if entry is None:
        suggestions = difflib.get_close_matches(key, list(_registry), n=3, cutoff=0.5)
        raise UnknownProviderError(
            f"Unknown provider {name!r}. Known providers: {', '.join(sorted(_registry))}. "
            f"A third-party provider registers itself in the {ENTRY_POINT_GROUP!r} entry-point "
            "group once its package is installed.",
            suggestions,
        )
    return key, entry


def get_provider_class(name: str) -> type[Provider]:
    """The adapter class for ``name``, imported now.

    Raises:
        UnknownProviderError: no such provider (with the nearest names).
        ConfigError: the provider exists but its package or SDK is not installed.
    """
    key, entry = _lookup(name)
    if not isinstance(entry.target, str):
        return entry.target
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"Provider {key!r} cannot be loaded: {exc}. To use it: {entry.install_hint}."
        ) from exc
    try:
        cls: type[Provider] = getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"Provider {key!r}: {module_name} has no {attr}.") from exc
    return cls


def get_provider(name: str, settings: ProviderSettings | None = None) -> Provider:
    """A ready adapter for ``name`` built from its settings.

    Raises:
        UnknownProviderError: no such provider (with the nearest names).
        MissingCredentialsError: a hosted provider has no API key (names the variable).
        ConfigError: the adapter's package or SDK is not installed.
    """
    from tuneport._config import ProviderSettings

    key, entry = _lookup(name)
    settings = settings if settings is not None else ProviderSettings()
    if entry.needs_api_key:
        # Checked before importing the SDK so the user hears about the key first.
        settings.require_api_key(key)
    cls = get_provider_class(key)
    try:
        return cls.from_settings(settings)
    except ModuleNotFoundError as exc:
        # Adapters import their SDK when built; a missing SDK is an install step, not a bug.
        from tuneport._extras import missing_dependency

        raise missing_dependency(exc, f"The {key} provider") from exc
