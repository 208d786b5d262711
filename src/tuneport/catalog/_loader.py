"""Finding, reading, merging and checking the catalog files.

Built-in data lives in ``providers/`` at the top of a source checkout and is shipped in the
wheel as ``tuneport/_catalog_data``. A user override directory (``TUNEPORT_CATALOG_DIR``, by
default ``<user config dir>/tuneport/catalog``) holds files of the same names; each is merged
into the built-in one entry by entry (a model by its ``canonical`` name, a tier or GPU by its
``name``, a GPU price by its ``cloud``), so an override only needs the keys it changes.
tuneport only ever reads that directory.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tuneport._exceptions import CatalogError
from tuneport.catalog._schema import (
    GpuEntry,
    GpuFile,
    MethodPrice,
    ModelEntry,
    ModelSpec,
    PriceTier,
    ProviderCatalog,
    ProviderFile,
)

__all__ = [
    "CATALOG_DIR_ENV",
    "builtin_data_dir",
    "check_gpus",
    "default_override_dir",
    "load_files",
    "merge_entries",
    "resolve_model",
    "resolve_provider",
]

CATALOG_DIR_ENV = "TUNEPORT_CATALOG_DIR"
GPU_FILE = "gpus.toml"

# The keys that identify an entry inside an array of tables, tried in order.
_ENTRY_KEYS = ("canonical", "name", "cloud", "gpu")


def builtin_data_dir() -> Path:
    """Where the built-in catalog files are: the wheel's copy, else the source checkout's."""
    package_dir = Path(__file__).resolve().parent.parent
    shipped = package_dir / "_catalog_data"
    if shipped.is_dir():
        return shipped
    checkout = package_dir.parent.parent / "providers"
    if checkout.is_dir():
        return checkout
    raise CatalogError(
        f"tuneport's built-in catalog is missing (looked in {shipped} and {checkout}). "
        "Reinstall tuneport; a wheel built without its data is broken."
    )


def default_override_dir() -> Path:
    """``TUNEPORT_CATALOG_DIR`` if set, else ``<user config dir>/tuneport/catalog``."""
    env = os.environ.get(CATALOG_DIR_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("tuneport", appauthor=False)) / "catalog"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(
            f"Catalog file {path} is not valid TOML: {exc}. Fix or remove it."
        ) from exc
    except OSError as exc:
        raise CatalogError(f"Cannot read catalog file {path}: {exc}") from exc


def _entry_key(item: Mapping[str, Any]) -> tuple[str, Any] | None:
    for key in _ENTRY_KEYS:
        if key in item:
            return key, item[key]
    return None


def merge_entries(base: Any, override: Any) -> Any:
    """Merge ``override`` into ``base``: tables key by key, arrays of tables entry by entry.

    An array of tables whose items carry an identifying key (``canonical``, ``name``,
    ``cloud``, ``gpu``) is merged item by item: a matching item is merged recursively, a new
    one appended. Any other value in ``override`` replaces the one in ``base``.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge_entries(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(override, list)
        and all(isinstance(i, dict) and _entry_key(i) for i in [*base, *override])
    ):
        merged_list = [dict(i) for i in base]
        for item in override:
            key = _entry_key(item)
            for pos, existing in enumerate(merged_list):
                if _entry_key(existing) == key:
                    merged_list[pos] = merge_entries(existing, item)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(override)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - 8
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def load_files(
    builtin_dir: Path, override_dir: Path | None
) -> tuple[dict[str, ProviderFile], GpuFile, dict[str, list[Path]]]:
    """Read, merge and validate every catalog file.

    Returns:
        provider files by provider name, the GPU file, and the paths each came from.

    Raises:
        CatalogError: a file is unreadable, not TOML, or fails the schema.
    """
    raw: dict[str, dict[str, Any]] = {}
    origins: dict[str, list[Path]] = {}
    for path in sorted(builtin_dir.glob("*.toml")):
        raw[path.stem] = _read_toml(path)
        origins[path.stem] = [path]
    if override_dir is not None and override_dir.is_dir():
        for path in sorted(override_dir.glob("*.toml")):
            data = _read_toml(path)
            raw[path.stem] = merge_entries(raw[path.stem], data) if path.stem in raw else data
            origins.setdefault(path.stem, []).append(path)

    if "gpus" not in raw:
        raise CatalogError(f"No {GPU_FILE} in {builtin_dir}: the GPU catalog is required.")
    try:
        gpus = GpuFile.model_validate(raw.pop("gpus"))
    except ValidationError as exc:
        files = ", ".join(str(p) for p in origins["gpus"])
        raise CatalogError(f"GPU catalog ({files}) is invalid: {_describe(exc)}") from exc

    providers: dict[str, ProviderFile] = {}
    for stem, data in raw.items():
        files = ", ".join(str(p) for p in origins[stem])
        try:
            parsed = ProviderFile.model_validate(data)
        except ValidationError as exc:
            raise CatalogError(f"Catalog {files} is invalid: {_describe(exc)}") from exc
        if parsed.provider.name != stem:
            raise CatalogError(
                f"Catalog {files} declares provider {parsed.provider.name!r}; the file must be "
                f"named {parsed.provider.name}.toml."
            )
        providers[stem] = parsed
    return providers, gpus, origins


def _tier_for(spec: ModelSpec, tiers: tuple[PriceTier, ...], where: str) -> PriceTier | None:
    if spec.tier is not None:
        for tier in tiers:
            if tier.name == spec.tier:
                return tier
        raise CatalogError(f"{where}: model {spec.canonical!r} names unknown tier {spec.tier!r}.")
    if not tiers:
        return None
    # Tiers are by total parameters (MoE included), smallest first; a tier without an upper
    # bound catches the rest.
    ordered = sorted(
        tiers, key=lambda t: float("inf") if t.max_params_b is None else t.max_params_b
    )
    if spec.params_b is None:
        # Unknown size: only a single catch-all tier can price it.
        return ordered[0] if len(ordered) == 1 and ordered[0].max_params_b is None else None
    for tier in ordered:
        if tier.max_params_b is None or spec.params_b <= tier.max_params_b:
            return tier
    return None


def resolve_model(spec: ModelSpec, pf: ProviderFile) -> ModelEntry:
    """Turn a file entry into a :class:`ModelEntry` with a dated price per method."""
    where = f"providers/{pf.provider.name}.toml"
    tier = _tier_for(spec, pf.tiers, where)
    prices: dict[str, MethodPrice] = {}
    for method in spec.methods:
        if method in spec.prices:
            # The schema guarantees both when prices are given.
            assert spec.as_of is not None
            assert spec.source is not None
            prices[method] = MethodPrice(
                usd_per_1m=spec.prices[method],
                min_charge_usd=spec.min_charge_usd,
                as_of=spec.as_of,
                source=spec.source,
            )
        elif tier is not None and method in tier.prices:
            prices[method] = MethodPrice(
                usd_per_1m=tier.prices[method],
                min_charge_usd=spec.min_charge_usd if spec.min_charge_usd is not None
                else tier.min_charge_usd,
                min_charge_confirmed=tier.min_charge_confirmed,
                as_of=tier.as_of,
                source=tier.source,
                tier=tier.name,
            )
        else:
            raise CatalogError(
                f"{where}: model {spec.canonical!r} offers {method} but no price covers it "
                "(add it to the model's prices or to its size tier)."
            )
    # The training limit, never the inference context: a hosted provider may train at less
    # than the model serves. Only a local model (trained here) falls back to its context.
    max_tokens = spec.max_tokens_per_example or pf.limits.max_tokens_per_example
    source = spec.max_tokens_source or (pf.limits.source if max_tokens else None)
    if max_tokens is None and pf.provider.kind == "local":
        max_tokens = spec.context_length
        source = "the model's context length (trained locally)" if max_tokens else None
    if max_tokens is None and pf.provider.kind == "hosted" and spec.context_length:
        raise CatalogError(
            f"{where}: model {spec.canonical!r} has a context_length but no training limit; "
            "give max_tokens_per_example (the provider's per-example training limit, which "
            "may be below the inference context) and max_tokens_source."
        )
    unsupported = dict(pf.provider.unsupported)
    return ModelEntry(
        canonical=spec.canonical,
        id=spec.id,
        provider=pf.provider.name,
        aliases=spec.aliases,
        params_b=spec.params_b,
        active_params_b=spec.active_params_b if spec.active_params_b is not None else spec.params_b,
        context_length=spec.context_length,
        max_tokens_per_example=max_tokens,
        max_tokens_source=source,
        id_source=spec.id_source,
        tokenizer=spec.tokenizer,
        hf_id=spec.hf_id,
        methods=prices,
        unsupported=unsupported,
        serving=spec.serving or pf.provider.serving,
        training_available_until=spec.training_available_until or pf.provider.new_jobs_until,
        shutdown_date=spec.shutdown_date,
        notes=spec.notes,
    )


def resolve_provider(pf: ProviderFile) -> ProviderCatalog:
    """Resolve a provider file: every model priced, names unique."""
    models = tuple(resolve_model(spec, pf) for spec in pf.models)
    seen: dict[str, str] = {}
    for entry in models:
        for name in {n.lower() for n in entry.names()}:
            if name in seen and seen[name] != entry.canonical:
                raise CatalogError(
                    f"providers/{pf.provider.name}.toml: name {name!r} is used by both "
                    f"{seen[name]!r} and {entry.canonical!r}."
                )
            seen[name] = entry.canonical
    info = pf.provider
    return ProviderCatalog(
        name=info.name,
        display_name=info.display_name,
        kind=info.kind,
        as_of=info.as_of,
        source=info.source,
        default_epochs=info.default_epochs,
        validation_billing=info.validation_billing,
        estimate_range=info.estimate_range,
        new_jobs_until=info.new_jobs_until,
        availability_note=info.availability_note,
        availability_source=info.availability_source,
        unsupported=info.unsupported,
        serving=info.serving,
        limits=pf.limits,
        tiers=pf.tiers,
        models=models,
        compute=pf.compute,
    )


def check_gpus(gpus: GpuFile) -> dict[str, GpuEntry]:
    """Index GPUs by name; names and aliases must be unique."""
    index: dict[str, GpuEntry] = {}
    for gpu in gpus.gpus:
        for name in (gpu.name, *gpu.aliases):
            if name.lower() in index:
                raise CatalogError(f"providers/gpus.toml: GPU name {name!r} is used twice.")
            index[name.lower()] = gpu
    return index

