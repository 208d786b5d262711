"""Reading uploaded training files the way each provider's ingestion does.

The emulator really parses what the SDKs upload: a malformed file fails the way the
provider reports it (OpenAI inside the job, Together in the file's validation report,
Fireworks in the dataset's status). Written from the providers' documented rules, not
from tuneport's own validator, so the contract tests can catch the validator's mistakes.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ParsedFile", "parse_training_file"]

_WORD = re.compile(r"\w+|[^\w\s]")
# Per-message overhead, as chat templates add role markers around every turn.
_TOKENS_PER_MESSAGE = 4

MIN_EXAMPLES = {"openai": 10, "together": 1, "fireworks": 3}


@dataclass
class ParsedFile:
    """What ingestion learned about a file."""

    n_examples: int = 0
    n_tokens: int = 0
    format: str = "unknown"
    error: str | None = None
    error_code: str | None = None
    error_line: int | None = None
    flags: dict[str, bool] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """True when the provider would accept the file for training."""
        return self.error is None


class _InvalidError(Exception):
    def __init__(self, line: int, message: str, code: str = "invalid_training_file") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.code = code


def count_tokens(value: Any) -> int:
    """A deterministic token count of any JSON value (words and punctuation)."""
    if isinstance(value, str):
        return len(_WORD.findall(value))
    if isinstance(value, dict):
        return sum(count_tokens(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_tokens(v) for v in value)
    return 0


def _message_tokens(messages: list[Any]) -> int:
    return sum(_TOKENS_PER_MESSAGE + count_tokens(m.get("content")) for m in messages)


def _check_messages(
    provider: str, line: int, messages: Any, key: str = "messages"
) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise _InvalidError(line, f"`{key}` must be a non-empty list")
    roles = {"system", "user", "assistant", "tool", "function"}
    if provider == "fireworks":
        roles = {"system", "user", "assistant", "tool"}
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise _InvalidError(line, f"`{key}[{i}]` must be an object")
        if "role" not in msg:
            raise _InvalidError(line, f"`{key}[{i}]` must contain a `role` field")
        if msg["role"] not in roles:
            raise _InvalidError(line, f"`{key}[{i}]` has an unrecognized role {msg['role']!r}")
        content = msg.get("content")
        if content is None and not msg.get("tool_calls") and not msg.get("function_call"):
            raise _InvalidError(line, f"`{key}[{i}]` must contain a `content` field")
        if content is not None and not isinstance(content, (str, list)):
            raise _InvalidError(line, f"`{key}[{i}].content` must be a string or a list of parts")
        if "weight" in msg and msg["weight"] not in (0, 1):
            raise _InvalidError(line, f"`{key}[{i}].weight` must be 0 or 1")
        if provider == "fireworks" and msg["role"] == "system" and i != 0:
            raise _InvalidError(line, f"`{key}[{i}]`: a system message may only come first")
    if provider == "together":
        turns = [m["role"] for m in messages if m["role"] in ("user", "assistant")]
        if messages[0]["role"] not in ("system", "user"):
            raise _InvalidError(line, "The conversation must start with system or user")
        if any(a == b for a, b in itertools.pairwise(turns)):
            raise _InvalidError(line, "The conversation must alternate user and assistant messages")
    if not any(m["role"] == "assistant" for m in messages):
        raise _InvalidError(line, f"`{key}` has no assistant message to learn from")
    return messages


def _parse_example(provider: str, line: int, obj: Any) -> tuple[str, int]:
    if not isinstance(obj, dict):
        raise _InvalidError(line, "each line must be a JSON object")
    if "messages" in obj:
        return "conversation", _message_tokens(_check_messages(provider, line, obj["messages"]))
    if "input" in obj and "preferred_output" in obj:
        inp = obj["input"]
        msgs = inp.get("messages") if isinstance(inp, dict) else None
        if not isinstance(msgs, list) or not msgs:
            raise _InvalidError(line, "`input.messages` must be a non-empty list")
        for key in ("preferred_output", "non_preferred_output"):
            if not isinstance(obj.get(key), list) or not obj[key]:
                raise _InvalidError(line, f"`{key}` must be a non-empty list of messages")
        tokens = _message_tokens(msgs) + _message_tokens(obj["preferred_output"])
        return "preference", tokens + _message_tokens(obj["non_preferred_output"])
    if provider == "together" and "prompt" in obj and "completion" in obj:
        if not isinstance(obj["prompt"], str) or not isinstance(obj["completion"], str):
            raise _InvalidError(line, "`prompt` and `completion` must be strings")
        return "instruction", count_tokens(obj["prompt"]) + count_tokens(obj["completion"])
    if provider == "together" and "text" in obj:
        if not isinstance(obj["text"], str):
            raise _InvalidError(line, "`text` must be a string")
        return "general", count_tokens(obj["text"])
    raise _InvalidError(line, "missing `messages`: each example must be a chat conversation")


def parse_training_file(provider: str, data: bytes) -> ParsedFile:
    """Parse a JSONL training file by ``provider``'s rules; never raises on bad data."""
    result = ParsedFile()
    formats: set[str] = set()
    try:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _InvalidError(0, "the file is not valid UTF-8") from exc
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise _InvalidError(number, f"invalid JSON ({exc.msg})") from exc
            fmt, tokens = _parse_example(provider, number, obj)
            formats.add(fmt)
            if len(formats) > 1:
                mixed = ", ".join(sorted(formats))
                raise _InvalidError(number, f"the file mixes dataset formats {mixed}")
            result.n_examples += 1
            result.n_tokens += tokens
            if isinstance(obj, dict):
                msgs = obj.get("messages") or []
                result.flags["has_message_weights"] = result.flags.get(
                    "has_message_weights", False
                ) or any(isinstance(m, dict) and "weight" in m for m in msgs)
                result.flags["has_tools"] = result.flags.get("has_tools", False) or "tools" in obj
        minimum = MIN_EXAMPLES[provider]
        if result.n_examples < minimum:
            raise _InvalidError(
                0,
                f"Training file has {result.n_examples} example(s), "
                f"but must have at least {minimum} examples",
                code="invalid_n_examples",
            )
    except _InvalidError as exc:
        result.error = exc.message if exc.line == 0 else f"Line {exc.line}: {exc.message}"
        result.error_code = exc.code
        result.error_line = exc.line or None
    result.format = formats.pop() if len(formats) == 1 else "unknown"
    return result
