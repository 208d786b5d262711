"""Canonical examples: the one in-memory form every reader produces and every renderer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ChatExample",
    "CompletionExample",
    "Example",
    "Format",
    "Message",
    "PreferenceExample",
    "TextExample",
]

Format = Literal["chat", "completion", "text", "preference"]


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message.

    ``content`` is a string, ``None`` (an assistant turn that only calls tools), or a list of
    content parts when it holds more than text (lists of text parts are joined into a string).
    """

    role: str
    content: str | list[dict[str, Any]] | None
    name: str | None = None
    weight: int | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The message as OpenAI-style JSON (absent fields left out)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls is not None:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.weight is not None:
            out["weight"] = self.weight
        return out


@dataclass(frozen=True, slots=True)
class ChatExample:
    """A conversation (``{"messages": [...], "tools": [...]}``)."""

    messages: tuple[Message, ...]
    line: int
    tools: list[Any] | None = None
    parallel_tool_calls: bool | None = None
    format: Literal["chat"] = field(default="chat", init=False)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON form."""
        out: dict[str, Any] = {"messages": [m.to_dict() for m in self.messages]}
        if self.tools is not None:
            out["tools"] = self.tools
        if self.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = self.parallel_tool_calls
        return out


@dataclass(frozen=True, slots=True)
class CompletionExample:
    """A prompt/completion pair (``{"prompt": ..., "completion": ...}``)."""

    prompt: str
    completion: str
    line: int
    format: Literal["completion"] = field(default="completion", init=False)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON form."""
        return {"prompt": self.prompt, "completion": self.completion}


@dataclass(frozen=True, slots=True)
class TextExample:
    """Plain text for continued pre-training (``{"text": ...}``)."""

    text: str
    line: int
    format: Literal["text"] = field(default="text", init=False)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON form."""
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class PreferenceExample:
    """A DPO pair: a conversation, the preferred and the rejected assistant reply."""

    messages: tuple[Message, ...]
    preferred: Message
    non_preferred: Message
    line: int
    tools: list[Any] | None = None
    format: Literal["preference"] = field(default="preference", init=False)

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON form (OpenAI's DPO line shape)."""
        inp: dict[str, Any] = {"messages": [m.to_dict() for m in self.messages]}
        if self.tools is not None:
            inp["tools"] = self.tools
        return {
            "input": inp,
            "preferred_output": [self.preferred.to_dict()],
            "non_preferred_output": [self.non_preferred.to_dict()],
        }


Example = ChatExample | CompletionExample | TextExample | PreferenceExample
