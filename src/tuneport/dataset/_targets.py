"""Each target's dataset rules, read from the catalog through one function.

``rules_for(target, model)`` is the only place that knows where limits come from: the
catalog (``tuneport.catalog``) when it lists the provider and model, else the defaults below
for what the catalog does not carry (roles, formats) or for the ``local`` target.
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tuneport._exceptions import UnknownModelError, UnknownProviderError

__all__ = ["KNOWN_ROLES", "TARGETS", "TargetRules", "check_targets", "rules_for"]

TARGETS: tuple[str, ...] = ("openai", "together", "fireworks", "local")
KNOWN_ROLES = frozenset({"system", "user", "assistant", "tool", "function", "developer"})

# OpenAI's "auto" epochs rule, from the fine-tuning data-prep cookbook (providers.md §1.8).
OPENAI_TARGET_EPOCHS = 3
OPENAI_MIN_TARGET_EXAMPLES = 100
OPENAI_MAX_TARGET_EXAMPLES = 25_000
OPENAI_MIN_DEFAULT_EPOCHS = 1
OPENAI_MAX_DEFAULT_EPOCHS = 25

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TargetRules:
    """What one target accepts. Field meanings follow the catalog's ``DatasetLimits``."""

    target: str
    model: str | None
    tokenizer: str
    formats: frozenset[str]
    roles: frozenset[str]
    supports_tools: bool
    supports_images: bool
    system_first: bool
    requires_alternation: bool
    min_examples: int
    max_examples: int | None
    max_file_bytes: int | None
    max_tokens_per_example: int | None
    default_epochs: int | None  # None: OpenAI's "auto" rule

    def epochs_for(self, n_examples: int) -> int:
        """Epochs the provider would run by default for ``n_examples`` examples."""
        if self.default_epochs is not None:
            return self.default_epochs
        n = max(n_examples, 1)
        epochs = OPENAI_TARGET_EPOCHS
        if n * epochs < OPENAI_MIN_TARGET_EXAMPLES:
            epochs = min(OPENAI_MAX_DEFAULT_EPOCHS, OPENAI_MIN_TARGET_EXAMPLES // n)
        elif n * epochs > OPENAI_MAX_TARGET_EXAMPLES:
            epochs = max(OPENAI_MIN_DEFAULT_EPOCHS, OPENAI_MAX_TARGET_EXAMPLES // n)
        return epochs


# Facts from shared/reference/providers.md (§1.7, §2.6, §3.4); the catalog overrides limits.
_DEFAULTS: dict[str, TargetRules] = {
    "openai": TargetRules(
        target="openai", model=None, tokenizer="tiktoken:o200k_base",
        formats=frozenset({"chat", "preference"}),
        roles=frozenset({"system", "user", "assistant", "tool", "function"}),
        supports_tools=True, supports_images=True, system_first=False,
        requires_alternation=False, min_examples=10, max_examples=None,
        max_file_bytes=512 * _MB, max_tokens_per_example=65_536, default_epochs=None,
    ),
    "together": TargetRules(
        target="together", model=None, tokenizer="approx",
        formats=frozenset({"chat", "completion", "text", "preference"}),
        roles=frozenset({"system", "user", "assistant", "tool"}),
        supports_tools=True, supports_images=True, system_first=True,
        requires_alternation=True, min_examples=1, max_examples=None,
        max_file_bytes=int(50.1 * 1024 * _MB), max_tokens_per_example=None, default_epochs=1,
    ),
    "fireworks": TargetRules(
        target="fireworks", model=None, tokenizer="approx",
        formats=frozenset({"chat", "completion", "preference"}),
        roles=frozenset({"system", "user", "assistant", "tool"}),
        supports_tools=True, supports_images=False, system_first=True,
        requires_alternation=False, min_examples=3, max_examples=3_000_000,
        max_file_bytes=None, max_tokens_per_example=32_768, default_epochs=1,
    ),
    "local": TargetRules(
        target="local", model=None, tokenizer="approx",
        formats=frozenset({"chat", "completion", "text"}),
        roles=frozenset({"system", "user", "assistant", "tool"}),
        supports_tools=True, supports_images=False, system_first=True,
        requires_alternation=False, min_examples=1, max_examples=None,
        max_file_bytes=None, max_tokens_per_example=None, default_epochs=1,
    ),
}


def check_targets(targets: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate target names; unknown ones raise with the nearest names."""
    out: list[str] = []
    for t in targets:
        name = t.strip().lower()
        if name not in _DEFAULTS:
            near = difflib.get_close_matches(name, TARGETS, n=2, cutoff=0.4)
            raise UnknownProviderError(
                f"Unknown target {t!r}; tuneport validates for {', '.join(TARGETS)}.", near
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def _openai_encoding(model_id: str) -> str:
    """tiktoken's model → encoding rule (tiktoken model.py), for models the catalog lacks."""
    m = model_id.removeprefix("ft:").lower()
    if m.startswith(("gpt-3.5", "davinci-002", "babbage-002", "gpt-4-", "gpt-4:")) or m == "gpt-4":
        return "tiktoken:cl100k_base"
    return "tiktoken:o200k_base"


def _load_catalog() -> Any | None:
    """The catalog, or None while tuneport.catalog is not importable."""
    try:
        from tuneport.catalog import load_catalog
    except ImportError:
        return None
    return load_catalog()


def _apply_limits(rules: TargetRules, limits: Any) -> TargetRules:
    changes: dict[str, Any] = {}
    for fld in ("min_examples", "max_examples", "max_file_bytes", "max_tokens_per_example",
                "supports_tools", "system_first", "requires_alternation"):
        value = getattr(limits, fld, None)
        if value is not None:
            changes[fld] = value
    for fld in ("formats", "roles"):
        value = getattr(limits, fld, None)
        if value:
            changes[fld] = frozenset(value)
    return replace(rules, **changes) if changes else rules


def rules_for(target: str, model: str | None = None) -> TargetRules:
    """The rules for ``target`` and optionally one model.

    Args:
        target: ``openai``, ``together``, ``fireworks`` or ``local``.
        model: a catalog model name or provider id; for ``local`` also a Hugging Face id, a
            model folder or a GGUF file.

    Raises:
        UnknownProviderError: the target is unknown.
        UnknownModelError: the catalog does not list ``model`` for this hosted target.
    """
    (target,) = check_targets([target])
    rules = _DEFAULTS[target]
    catalog = _load_catalog()
    if catalog is not None:
        # No catalog for a target (e.g. "local"): the defaults stand.
        with contextlib.suppress(UnknownProviderError):
            rules = _apply_limits(rules, catalog.provider(target).limits)
    if model is None:
        return rules
    if target == "local":
        return _local_rules(rules, model, catalog)
    if catalog is None:
        if target == "openai":
            return replace(rules, model=model, tokenizer=_openai_encoding(model))
        return replace(rules, model=model)
    entry = catalog.resolve_model(target, model)
    tokenizer = getattr(entry, "tokenizer", None) or rules.tokenizer
    max_tokens = getattr(entry, "max_tokens_per_example", None) or rules.max_tokens_per_example
    return replace(rules, model=entry.canonical, tokenizer=tokenizer,
                   max_tokens_per_example=max_tokens)


def _local_rules(rules: TargetRules, model: str, catalog: Any | None) -> TargetRules:
    path = Path(model).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return replace(rules, model=model, tokenizer=f"gguf:{path}")
    if path.is_dir():
        return replace(rules, model=model, tokenizer=f"path:{path}")
    if catalog is not None:
        # A canonical name known to another catalog gives the HF repo of its tokenizer.
        for provider in ("together", "fireworks"):
            try:
                entry = catalog.resolve_model(provider, model)
            except (UnknownModelError, UnknownProviderError):
                continue
            tok = getattr(entry, "tokenizer", "") or ""
            ctx = getattr(entry, "context_length", None)
            if tok.startswith("hf:"):
                return replace(rules, model=model, tokenizer=tok, max_tokens_per_example=ctx)
    return replace(rules, model=model, tokenizer=f"hf:{model}")
