"""Renderers: canonical examples to each target's wire JSONL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneport.dataset._examples import (
    ChatExample,
    CompletionExample,
    Example,
    PreferenceExample,
    TextExample,
)

__all__ = ["RENDERERS", "wire_format"]


def _canonical(ex: Example) -> dict[str, Any]:
    return ex.to_dict()


def _as_chat(ex: Example) -> dict[str, Any]:
    """Fireworks documents only chat lines: prompt/completion becomes a user/assistant turn."""
    if isinstance(ex, CompletionExample):
        return {"messages": [{"role": "user", "content": ex.prompt},
                             {"role": "assistant", "content": ex.completion}]}
    return ex.to_dict()


RENDERERS: dict[str, Callable[[Example], dict[str, Any]]] = {
    "openai": _canonical,      # chat JSONL / DPO JSONL, OpenAI's own line schemas
    "together": _canonical,    # conversational / instruction / text / preference JSONL
    "fireworks": _as_chat,     # chat JSONL (OpenAI-compatible), DPO JSONL
    "local": _canonical,       # canonical chat / completion / text JSONL
}


def wire_format(target: str, ex: Example) -> str:
    """The name of the wire format one example renders to for ``target``."""
    if isinstance(ex, PreferenceExample):
        return "preference"
    if isinstance(ex, ChatExample):
        return "chat"
    if isinstance(ex, CompletionExample):
        return "chat" if target == "fireworks" else "completion"
    assert isinstance(ex, TextExample)
    return "text"
