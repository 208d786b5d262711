"""Each target's dataset rules, read from the catalog through one function.

``rules_for(target, model)`` is the only place that knows where limits come from: the
catalog (``tuneport.catalog``) when it lists the provider and model, else the defaults below
for what the catalog does not carry (roles, formats) or for the ``local`` target.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path

from tuneport._exceptions import UnknownProviderError

__all__ = ["KNOWN_ROLES", "TARGETS", "TargetRules", "check_targets", "rules_for"]

TARGETS: tuple[str, ...] = ("openai", "together", "fireworks", "local")
KNOWN_ROLES = frozenset({"system", "user", "assistant", "tool", "function", "developer"})

# OpenAI's "auto" epochs rule, from the fine-tuning data-prep cookbook (providers.md §1.8).
OPENAI_TARGET_EPOCHS = 3
OPENAI_MIN_TARGET_EXAMPLES = 100
OPENAI_MAX_TARGET_EXAMPLES = 25_000
OPENAI_MIN_DEFAULT_EPOCHS = 1
OPENAI_MAX_DEFAULT_EPOCHS = 25

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
    model_known: bool = True  # False: a local model the catalog does not list

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


# What the catalog does not carry. Everything else (formats, roles, limits, default epochs,
# per-model tokenizer and token limit) comes from providers/<target>.toml.
_BASE: dict[str, tuple[str, bool]] = {  # target: (tokenizer without a model, takes images)
    "openai": ("tiktoken:o200k_base", True),
    "together": ("approx", True),
    "fireworks": ("approx", False),
    "local": ("approx", False),
}


def check_targets(targets: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate target names; unknown ones raise with the nearest names."""
    out: list[str] = []
    for t in targets:
        name = t.strip().lower()
        if name not in _BASE:
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


def _provider_rules(target: str) -> TargetRules:
    from tuneport.catalog import load_catalog

    pc = load_catalog().provider(target)
    lim = pc.limits
    formats = frozenset(lim.formats)
    if target == "fireworks" and "chat" in formats:
        # Fireworks documents chat lines only; tuneport renders prompt/completion as a turn.
        formats |= {"completion"}
    tokenizer, images = _BASE[target]
    return TargetRules(
        target=target, model=None, tokenizer=tokenizer, formats=formats,
        roles=frozenset(lim.roles), supports_tools=lim.supports_tools, supports_images=images,
        system_first=lim.system_first, requires_alternation=lim.requires_alternation,
        min_examples=lim.min_examples, max_examples=lim.max_examples,
        max_file_bytes=lim.max_file_bytes, max_tokens_per_example=lim.max_tokens_per_example,
        default_epochs=None if pc.default_epochs == "auto" else int(pc.default_epochs),
    )


def rules_for(target: str, model: str | None = None) -> TargetRules:
    """The rules for ``target`` and optionally one model, from the catalog.

    Args:
        target: ``openai``, ``together``, ``fireworks`` or ``local``.
        model: a catalog model name or provider id; for ``local`` also a Hugging Face id, a
            model folder or a GGUF file.

    Raises:
        UnknownProviderError: the target is unknown.
        UnknownModelError: the catalog does not list ``model`` for this hosted target.
    """
    (target,) = check_targets([target])
    rules = _provider_rules(target)
    if model is None:
        return rules
    path = Path(model).expanduser()
    if target == "local" and path.suffix == ".gguf" and path.is_file():
        return replace(rules, model=model, tokenizer=f"gguf:{path}")
    if target == "local" and path.is_dir():
        return replace(rules, model=model, tokenizer=f"path:{path}")
    from tuneport.catalog import load_catalog

    entry = load_catalog().resolve_model(target, model)
    tokenizer = entry.tokenizer or rules.tokenizer
    if target == "openai" and tokenizer == "approx":
        tokenizer = _openai_encoding(entry.id)
    limit = entry.max_tokens_per_example or rules.max_tokens_per_example
    if target == "local" and limit is None:
        limit = entry.context_length
    return replace(rules, model=entry.canonical, tokenizer=tokenizer,
                   max_tokens_per_example=limit, model_known=entry.known)
