"""Everything before a job is submitted: which dataset, which model, valid for whom.

:func:`prepare` checks the method against the adapter, resolves the model through the
catalog (warning about announced end dates), validates the data for that provider (so
errors raise before any upload), builds the :class:`~tuneport._models.FineTuneSpec` and
renders the provider's files into a temporary folder that lives while the block runs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from tuneport._config import invalid_argument
from tuneport._exceptions import (
    ConfigError,
    DatasetError,
    UnknownProviderError,
    UnsupportedFeatureError,
    ValidationFailedError,
)
from tuneport._models import Capability, FineTuneSpec, RenderedDataset, WandbConfig

if TYPE_CHECKING:
    from tuneport.providers.base import Provider

__all__ = ["Prepared", "ProgressCallback", "ProviderAvailabilityWarning", "as_dataset", "prepare"]

#: ``(stage, info)``; see :meth:`tuneport.Client.fine_tune` for the stages.
ProgressCallback = Callable[[str, dict[str, Any]], None]

HOSTED = frozenset({"openai", "together", "fireworks"})

_METHOD_CAPABILITY = {
    "lora": Capability.LORA,
    "full": Capability.FULL,
    "qlora": Capability.QLORA,
    "dpo-lora": Capability.DPO,
    "dpo-full": Capability.DPO,
}


@dataclass
class Prepared:
    """A submission ready to upload: the adapter, the spec and the rendered files."""

    provider: str
    adapter: Provider
    spec: FineTuneSpec
    rendered: RenderedDataset
    validation: RenderedDataset | None


@contextmanager
def prepare(
    provider: str,
    adapter: Provider,
    dataset: Any,
    *,
    model: str,
    method: str,
    epochs: int | str | None,
    learning_rate: float | None = None,
    batch_size: int | str | None = None,
    lora_rank: int | None = None,
    beta: float | None = None,
    suffix: str | None = None,
    validation: Any = None,
    wandb: WandbConfig | dict[str, Any] | None = None,
    provider_options: dict[str, Any] | None = None,
    notify: ProgressCallback | None = None,
) -> Iterator[Prepared]:
    """Check, validate and render; the rendered files live while the block runs."""
    name = provider
    check_method(adapter, method)
    if (provider_options or {}).get("devices") is not None and name in HOSTED:
        raise UnsupportedFeatureError(
            f"devices= is for the local backend; {name} chooses its own hardware."
        )
    # The data first: a missing file is the plainest mistake and should be said first.
    ds = as_dataset(dataset)
    vds = as_dataset(validation) if validation is not None else None
    provider_model, canonical = _resolve_model(name, model, method)
    _validate(ds, name, canonical or provider_model)
    if vds is not None:
        _validate(vds, name, canonical or provider_model, what="validation dataset")
    if notify is not None:
        notify("validated", {"provider": name, "model": provider_model})
    spec = _spec(provider_model, canonical, method=method, epochs=epochs,
                 learning_rate=learning_rate, batch_size=batch_size, lora_rank=lora_rank,
                 beta=beta, suffix=suffix, wandb=wandb, provider_options=provider_options)
    from tuneport.dataset._scratch import render_scratch

    # Removed after success or failure; folders left by a killed process go at the next start.
    with render_scratch() as tmp:
        rendered = _render(ds, name, tmp / "train", provider_model)
        from tuneport.dataset._preference import check_method_format

        check_method_format(method, rendered.format)  # before anything is uploaded
        vrendered = (
            _render(vds, name, tmp / "validation", provider_model)
            if vds is not None else None
        )
        yield Prepared(name, adapter, spec, rendered, vrendered)


def _spec(model: str, canonical: str | None, *, wandb: WandbConfig | dict[str, Any] | None,
          provider_options: dict[str, Any] | None, **options: Any) -> FineTuneSpec:
    """The job's spec; arguments of the wrong type are a :class:`ConfigError` naming the fix."""
    if provider_options is not None and not isinstance(provider_options, dict):
        raise ConfigError(f"provider_options= takes a dict, not a "
                          f"{type(provider_options).__name__}.")
    try:
        if isinstance(wandb, dict):
            wandb = WandbConfig(**wandb)
        return FineTuneSpec(model=model, canonical_model=canonical, wandb=wandb,
                            provider_options=dict(provider_options or {}), **options)
    except ValidationError as exc:
        raise invalid_argument(exc, "fine-tuning options") from None


def check_method(adapter: Provider, method: str) -> None:
    """Raise :class:`UnsupportedFeatureError` unless ``adapter`` offers ``method``."""
    needed = _METHOD_CAPABILITY.get(method)
    if needed is None:
        raise UnsupportedFeatureError(
            f"Unknown method {method!r}; choose one of {', '.join(_METHOD_CAPABILITY)}."
        )
    # An adapter that declares no capabilities offers nothing: an empty set is not a
    # wildcard (a plugin that forgot to declare them is told so, not trusted blindly).
    if needed not in adapter.capabilities:
        offered = [m for m, cap in _METHOD_CAPABILITY.items() if cap in adapter.capabilities]
        hint = (" (its adapter declares no capabilities; a provider lists what it offers in "
                "its `capabilities` class attribute)" if not adapter.capabilities else "")
        raise UnsupportedFeatureError(
            f"{adapter.name} does not offer method {method!r}; it offers: "
            f"{', '.join(offered) or 'none'}{hint}."
        )


def _resolve_model(provider: str, model: str, method: str) -> tuple[str, str | None]:
    """(provider's model id, canonical name) from the catalog; warns about wind-downs.

    Providers the catalog does not cover (the local backend, plugins) take the name as is.
    """
    from tuneport.catalog import load_catalog

    catalog = load_catalog()
    try:
        provider_catalog = catalog.provider(provider)
    except UnknownProviderError:
        return model, None
    entry = catalog.resolve_model(provider, model)
    from tuneport.catalog import method_key

    reason = (getattr(entry, "unsupported", None) or {}).get(method_key(method))
    if reason:
        raise UnsupportedFeatureError(f"{provider} / {entry.id}, method {method!r}: {reason}")
    _warn_availability(provider, provider_catalog, entry)
    return str(entry.id), getattr(entry, "canonical", None)


def _warn_availability(provider: str, provider_catalog: Any, entry: Any) -> None:
    """Surface the catalog's availability dates (e.g. OpenAI's self-serve wind-down)."""
    until = getattr(entry, "training_available_until", None)
    shutdown = getattr(entry, "shutdown_date", None)
    if until is None and shutdown is None:
        return
    today = date.today()
    parts = []
    if isinstance(until, date):
        verb = "accepted" if until < today else "accepts"
        parts.append(f"{provider} {verb} new fine-tuning jobs on {entry.id} only until {until}")
    if isinstance(shutdown, date):
        parts.append(f"the base model shuts down on {shutdown}")
    note = getattr(provider_catalog, "availability_note", None)
    warnings.warn(
        "; ".join(parts) + "." + (f" {note}" if note else ""),
        ProviderAvailabilityWarning,
        # user -> Client.fine_tune/quote -> contextlib -> prepare -> _resolve_model -> here
        stacklevel=6,
    )


class ProviderAvailabilityWarning(UserWarning):
    """A provider or model has an announced end date (e.g. OpenAI's fine-tuning wind-down)."""


def as_dataset(data: Any) -> Any:
    """A :class:`tuneport.Dataset` from a Dataset, a path, or a list of records."""
    if hasattr(data, "validate") and hasattr(data, "render"):
        return data  # a tuneport.Dataset, or anything with its interface
    from tuneport.dataset import Dataset

    if isinstance(data, str | os.PathLike):
        path = Path(data).expanduser()
        if not path.exists():
            raise DatasetError(f"Dataset file {path} does not exist.")
        return Dataset.from_jsonl(path)
    if isinstance(data, Sequence) and not isinstance(data, bytes | bytearray):
        return Dataset.from_records(list(data))
    raise DatasetError(
        f"Cannot use a {type(data).__name__} as a dataset: pass a tuneport.Dataset, "
        "a path to a JSONL file, or a list of records."
    )


def _validate(ds: Any, provider: str, model: str, what: str = "dataset") -> None:
    try:
        report = ds.validate(targets=(provider,), model=model)
        known_target = True
    except UnknownProviderError:
        # A plugin provider the dataset rules do not know: the generic rules still apply.
        report = ds.validate(targets=())
        known_target = False
    errors = [
        i for i in getattr(report, "issues", []) if str(getattr(i, "severity", "")) == "error"
    ]
    ok = report.ok_for(provider) if known_target and hasattr(report, "ok_for") else not errors
    if ok:
        return
    if known_target and hasattr(report, "errors_for"):
        errors = list(report.errors_for(provider))
    shown = "".join(f"\n  - {_issue_text(i)}" for i in errors[:5])
    more = f"\n  ... and {len(errors) - 5} more" if len(errors) > 5 else ""
    raise ValidationFailedError(
        f"The {what} has {len(errors) or 'some'} error(s) for {provider}:{shown}{more}\n"
        f"Nothing was uploaded; run `tuneport validate FILE --provider {provider}` for the "
        "full report.",
        report,
    )


def _issue_text(issue: Any) -> str:
    line = getattr(issue, "line", None)
    where = f"line {line}: " if line is not None else ""
    return f"{where}{getattr(issue, 'code', '')} {getattr(issue, 'message', issue)}".strip()


def _render(ds: Any, provider: str, folder: Path, model: str) -> RenderedDataset:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        rendered: RenderedDataset = ds.render(provider, folder, model=model)
    except UnknownProviderError:
        # A plugin provider: hand it OpenAI-style chat JSONL, the de facto common format.
        rendered = ds.render("openai", folder).model_copy(update={"provider": provider})
    return rendered
