"""Build canonical examples from records the checker accepted."""

from __future__ import annotations

from typing import Any

from tuneport.dataset._checks import joined_text
from tuneport.dataset._examples import (
    ChatExample,
    CompletionExample,
    Example,
    Message,
    PreferenceExample,
    TextExample,
)
from tuneport.dataset._preference import canonical_preference, is_common_shape

__all__ = ["build_example"]


def _message(m: dict[str, Any]) -> Message:
    content = m.get("content")
    if isinstance(content, list):
        text = joined_text(content)
        content = text if text is not None else content
    name = m.get("name")
    weight = m.get("weight")
    tool_calls = m.get("tool_calls")
    tool_call_id = m.get("tool_call_id")
    return Message(
        role=m["role"],
        content=content,
        name=name if isinstance(name, str) else None,
        weight=weight if type(weight) is int else None,
        tool_calls=tool_calls if isinstance(tool_calls, list) else None,
        tool_call_id=tool_call_id if isinstance(tool_call_id, str) else None,
    )


def build_example(obj: dict[str, Any], fmt: str, line: int) -> Example:
    """The canonical example of a record whose structure the checker accepted."""
    if fmt == "chat":
        tools = obj.get("tools")
        ptc = obj.get("parallel_tool_calls")
        return ChatExample(
            messages=tuple(_message(m) for m in obj["messages"]),
            line=line,
            tools=tools if isinstance(tools, list) and tools else None,
            parallel_tool_calls=ptc if isinstance(ptc, bool) else None,
        )
    if fmt == "completion":
        return CompletionExample(prompt=obj["prompt"], completion=obj["completion"], line=line)
    if fmt == "text":
        return TextExample(text=obj["text"], line=line)
    if is_common_shape(obj):
        obj = canonical_preference(obj)
    inp = obj["input"]
    tools = inp.get("tools")
    return PreferenceExample(
        messages=tuple(_message(m) for m in inp["messages"]),
        preferred=_message(obj["preferred_output"][0]),
        non_preferred=_message(obj["non_preferred_output"][0]),
        line=line,
        tools=tools if isinstance(tools, list) and tools else None,
    )
