"""The loaded catalog: providers, models by any of their names, GPUs, compute defaults."""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from tuneport._exceptions import CatalogError, UnknownModelError, UnknownProviderError
from tuneport.catalog._loader import (
    builtin_data_dir,
    check_gpus,
    default_override_dir,
    load_files,
    resolve_provider,
)
from tuneport.catalog._schema import (
    ComputeDefaults,
    GpuEntry,
    MethodPrice,
    ModelEntry,
    ProviderCatalog,
)

__all__ = [
    "STALE_AFTER_DAYS",
    "Catalog",
    "UnknownGpuError",
    "clear_catalog_cache",
    "load_catalog",
    "method_key",
]

#: Prices older than this still work, but estimates say so.
STALE_AFTER_DAYS = 120

_METHOD_ALIASES = {
    "lora": "sft-lora",
    "full": "sft-full",
    "qlora": "sft-qlora",
    "sft": "sft-lora",
    "dpo": "dpo-lora",
    "sft-lora": "sft-lora",
    "sft-full": "sft-full",
    "sft-qlora": "sft-qlora",
    "dpo-lora": "dpo-lora",
    "dpo-full": "dpo-full",
}


def method_key(method: str) -> str:
    """Map a user-facing method (``lora``, ``full``, ``qlora``, ``dpo-lora``...) to a catalog key.

    Raises:
        UnsupportedFeatureError: the method is not one tuneport knows.
    """
    from tuneport._exceptions import UnsupportedFeatureError

    key = _METHOD_ALIASES.get(method.strip().lower())
    if key is None:
        raise UnsupportedFeatureError(
            f"Unknown fine-tuning method {method!r}; use one of lora, full, qlora, dpo-lora, "
            "dpo-full."
        )
    return key


class UnknownGpuError(CatalogError):
    """A GPU name that ``gpus.toml`` does not know; ``suggestions`` holds the nearest names."""

    def __init__(self, name: str, suggestions: Sequence[str]) -> None:
        self.suggestions = list(suggestions)
        msg = f"Unknown GPU {name!r}."
        if self.suggestions:
            msg += f" Did you mean: {', '.join(self.suggestions)}?"
        super().__init__(msg)


def _nearest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    pool = sorted(set(candidates))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    result = [lowered[h] for h in hits]
    if not result:
        # Substring matches catch "8b" -> "llama-3.1-8b-instruct" that ratio-based misses.
        result = [c for c in pool if name.lower() in c.lower()][:n]
    return result


class Catalog:
    """All providers' catalogs and the GPU table, merged with the user's overrides.

    Get one with :func:`load_catalog`; it is immutable.
    """

    def __init__(
        self,
        providers: dict[str, ProviderCatalog],
        gpus: Sequence[GpuEntry],
        sources: dict[str, list[Path]],
    ) -> None:
        self._providers = providers
        self._gpus = tuple(gpus)
        self._gpu_index = {}
        for gpu in self._gpus:
            for alias in (gpu.name, *gpu.aliases):
                self._gpu_index[alias.lower()] = gpu
        self.sources = sources

    # -- providers ------------------------------------------------------------------------
    @property
    def provider_names(self) -> tuple[str, ...]:
        """Every provider with a catalog, in a stable order."""
        return tuple(sorted(self._providers))

    @property
    def hosted_providers(self) -> tuple[str, ...]:
        """Providers whose kind is ``hosted``."""
        return tuple(n for n in self.provider_names if self._providers[n].kind == "hosted")

    def provider(self, name: str) -> ProviderCatalog:
        """One provider's catalog.

        Raises:
            UnknownProviderError: no catalog for that name (with the nearest names).
        """
        key = name.strip().lower()
        if key in self._providers:
            return self._providers[key]
        raise UnknownProviderError(
            f"No catalog for provider {name!r} (known: {', '.join(self.provider_names)}).",
            _nearest(name, self._providers),
        )

    # -- models ---------------------------------------------------------------------------
    def _lookup(self, pc: ProviderCatalog, name: str) -> ModelEntry | None:
        wanted = name.strip().lower()
        for entry in pc.models:
            if wanted in (n.lower() for n in entry.names()):
                return entry
        return None

    def resolve_model(self, provider: str, name: str) -> ModelEntry:
        """A model at a provider, by canonical name, provider id or alias (case-insensitive).

        The ``local`` provider accepts any Hugging Face id, folder or GGUF path: unlisted ones
        get an entry with unknown size (``params_b=None``).

        Raises:
            UnknownProviderError: no such provider.
            UnknownModelError: the provider has no such model (with the nearest names, and the
                providers that do offer it when it is known elsewhere).
        """
        pc = self.provider(provider)
        found = self._lookup(pc, name)
        if found is not None:
            return found
        # A provider id of another provider ("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
        # stands for its canonical name here.
        for other in self._providers.values():
            entry = self._lookup(other, name)
            if entry is not None and other.name != pc.name:
                here = self._lookup(pc, entry.canonical)
                if here is not None:
                    return here
        if pc.kind == "local":
            return self._local_entry(pc, name)
        offered_elsewhere = [
            other.name
            for other in self._providers.values()
            if other.name != pc.name and self._lookup(other, name) is not None
        ]
        hint = (
            f" It is offered by: {', '.join(sorted(offered_elsewhere))}."
            if offered_elsewhere
            else ""
        )
        names = [n for e in pc.models for n in (e.canonical, e.id)]
        raise UnknownModelError(
            f"{pc.display_name} has no tunable model {name!r}.{hint}", _nearest(name, names)
        )

    def _local_entry(self, pc: ProviderCatalog, name: str) -> ModelEntry:
        methods: dict[str, MethodPrice] = {}
        for tier in pc.tiers:
            if tier.max_params_b is None:
                for key, price in tier.prices.items():
                    methods[key] = MethodPrice(
                        usd_per_1m=price, as_of=tier.as_of, source=tier.source, tier=tier.name
                    )
        return ModelEntry(
            canonical=name,
            id=name,
            provider=pc.name,
            tokenizer=f"hf:{name}",
            hf_id=name,
            max_tokens_per_example=pc.limits.max_tokens_per_example,
            methods=methods,
            unsupported=dict(pc.unsupported),
            notes=("Not in the local catalog: parameter count unknown, so no self-hosted "
                   "cost or memory check.",),
            known=False,
        )

    def offering(self, name: str) -> dict[str, ModelEntry]:
        """Every provider whose catalog lists this model (by any of its names)."""
        result: dict[str, ModelEntry] = {}
        canonical: str | None = None
        for pc in self._providers.values():
            entry = self._lookup(pc, name)
            if entry is not None:
                canonical = entry.canonical
                break
        if canonical is None:
            return result
        for pname in self.provider_names:
            entry = self._lookup(self._providers[pname], canonical)
            if entry is not None:
                result[pname] = entry
        return result

    def find_model(self, name: str) -> ModelEntry:
        """The first catalog entry for a name anywhere, local catalog preferred (it has sizes).

        Raises:
            UnknownModelError: no catalog knows the name.
        """
        offers = self.offering(name)
        if not offers:
            raise UnknownModelError(
                f"No catalog knows the model {name!r}.",
                _nearest(name, [n for pc in self._providers.values() for e in pc.models
                                for n in (e.canonical, e.id)]),
            )
        return offers.get("local") or next(iter(offers.values()))

    # -- GPUs -----------------------------------------------------------------------------
    @property
    def gpus(self) -> tuple[GpuEntry, ...]:
        """Every GPU in ``gpus.toml``."""
        return self._gpus

    def gpu(self, name: str) -> GpuEntry:
        """A GPU by name or alias (case-insensitive).

        Raises:
            UnknownGpuError: not in the GPU catalog (with the nearest names).
        """
        found = self._gpu_index.get(name.strip().lower())
        if found is None:
            raise UnknownGpuError(name, _nearest(name, [g.name for g in self._gpus]))
        return found

    # -- compute --------------------------------------------------------------------------
    @property
    def compute(self) -> ComputeDefaults:
        """The self-hosted compute model's constants (from ``local.toml``)."""
        for pc in self._providers.values():
            if pc.compute is not None:
                return pc.compute
        raise CatalogError("No [compute] table in any catalog (it belongs in local.toml).")


_cache: dict[tuple[str, str], Catalog] = {}
_cache_lock = threading.Lock()


def load_catalog(
    override_dir: str | Path | None = None, *, builtin_dir: str | Path | None = None
) -> Catalog:
    """Load the catalogs: built-in TOML merged with the user's override directory.

    Args:
        override_dir: where override files live; default ``TUNEPORT_CATALOG_DIR`` or
            ``<user config dir>/tuneport/catalog``. Missing is fine. Never written.
        builtin_dir: the built-in data (tests point this elsewhere); default the shipped copy.

    Returns:
        The catalog, cached per (built-in, override) directory pair.

    Raises:
        CatalogError: a file is malformed; the message names it and the bad keys.
    """
    builtin = Path(builtin_dir) if builtin_dir is not None else builtin_data_dir()
    override = (
        Path(override_dir).expanduser() if override_dir is not None else default_override_dir()
    )
    key = (str(builtin.resolve()), str(override.resolve()))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    files, gpus, origins = load_files(builtin, override)
    providers = {name: resolve_provider(pf) for name, pf in files.items()}
    check_gpus(gpus)
    catalog = Catalog(providers, gpus.gpus, origins)
    with _cache_lock:
        _cache[key] = catalog
    return catalog


def clear_catalog_cache() -> None:
    """Forget cached catalogs (after editing an override file in the same process)."""
    with _cache_lock:
        _cache.clear()
