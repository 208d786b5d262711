"""Turn JSONL training lines into token ids plus a per-token "trained" mask.

Formats (one JSON object per line; the dataset module has validated the file before):

* chat: ``{"messages": [{"role", "content", "weight"?}, ...], "tools"?: [...]}`` rendered
  with the base model's chat template; only assistant messages are trained, and an
  assistant message with ``"weight": 0`` is not.
* prompt/completion: ``{"prompt": str, "completion": str}`` (raw text, EOS appended) or
  conversational (``prompt`` and ``completion`` are message lists); only the completion
  is trained.
* text: ``{"text": str}``; every token is trained.

Trained spans are found on the rendered *string* (by rendering the conversation up to each
assistant turn) and mapped to tokens through the tokenizer's character offsets, so the
text is tokenized once, exactly as the model will see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneport._exceptions import DatasetError

__all__ = ["DataReport", "TokenizedExample", "encode_record", "prepare_examples", "read_jsonl"]


@dataclass(frozen=True)
class TokenizedExample:
    """One example ready for packing.

    ``trained[j]`` is true when token ``j`` is a training target (predicted from position
    ``j - 1``); ``trained[0]`` is always false.
    """

    input_ids: list[int]
    trained: list[bool]
    line: int

    @property
    def n_trained(self) -> int:
        """How many tokens carry loss."""
        return sum(self.trained[1:])


@dataclass
class DataReport:
    """What happened to the examples of one file (never silent about drops)."""

    n_lines: int = 0
    n_used: int = 0
    truncated_lines: list[int] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    total_tokens: int = 0
    trained_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (line lists capped for readability)."""
        return {
            "n_lines": self.n_lines,
            "n_used": self.n_used,
            "n_truncated": len(self.truncated_lines),
            "truncated_lines": self.truncated_lines[:50],
            "n_dropped": len(self.dropped),
            "dropped": self.dropped[:50],
            "total_tokens": self.total_tokens,
            "trained_tokens": self.trained_tokens,
        }


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSONL file into ``(line number, object)`` pairs, skipping blank lines."""
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"Cannot read training file {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from exc
        if not isinstance(obj, dict):
            raise DatasetError(f"{path}, line {number}: expected a JSON object.")
        records.append((number, obj))
    return records


def _clean_messages(messages: Any, line: int) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise DatasetError(f"line {line}: 'messages' must be a non-empty list.")
    cleaned = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message:
            raise DatasetError(f"line {line}: every message needs a 'role'.")
        cleaned.append({k: v for k, v in message.items() if k != "weight"})
    return cleaned


def _render(tokenizer: Any, messages: list[dict[str, Any]], tools: Any,
            *, add_generation_prompt: bool) -> str:
    kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": add_generation_prompt}
    if tools:
        kwargs["tools"] = tools
    text = tokenizer.apply_chat_template(messages, **kwargs)
    return str(text)


def _chat_spans(tokenizer: Any, messages: list[dict[str, Any]], weights: list[float],
                tools: Any, line: int) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of trained assistant turns."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise DatasetError(
            "The base model's tokenizer has no chat template, so chat examples cannot be "
            "rendered. Use a model with a chat template (an '-instruct' model), or give "
            "prompt/completion or text examples."
        )
    full = _render(tokenizer, messages, tools, add_generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant" or weights[index] == 0:
            continue
        before = _render(tokenizer, messages[:index], tools, add_generation_prompt=True) \
            if index else ""
        upto = _render(tokenizer, messages[: index + 1], tools, add_generation_prompt=False)
        if not (full.startswith(upto) and upto.startswith(before)):
            # Templates that rewrite earlier turns (e.g. drop past reasoning) are not
            # prefix-stable: train only the final assistant turn, which is always exact.
            if index == len(messages) - 1:
                before = _render(tokenizer, messages[:index], tools, add_generation_prompt=True)
                if full.startswith(before):
                    spans = [(len(before), len(full))]
                    break
            raise DatasetError(
                f"line {line}: the chat template renders earlier turns differently once later "
                "turns are added; put the trained assistant message last or set weight 0 on "
                "earlier assistant messages."
            )
        spans.append((len(before), len(upto)))
    return full, spans


def encode_record(tokenizer: Any, record: dict[str, Any], line: int) -> TokenizedExample:
    """Tokenize one JSONL record and mark its trained tokens."""
    add_special = False
    if "messages" in record:
        messages = _clean_messages(record["messages"], line)
        weights = [float(m.get("weight", 1)) for m in record["messages"]]
        text, spans = _chat_spans(tokenizer, messages, weights, record.get("tools"), line)
    elif "prompt" in record and "completion" in record:
        prompt, completion = record["prompt"], record["completion"]
        if isinstance(prompt, list) and isinstance(completion, list):
            messages = _clean_messages(prompt + completion, line)
            weights = [0.0] * len(prompt) + [float(m.get("weight", 1)) for m in completion]
            text, spans = _chat_spans(tokenizer, messages, weights, record.get("tools"), line)
        elif isinstance(prompt, str) and isinstance(completion, str):
            eos = tokenizer.eos_token or ""
            text = prompt + completion + eos
            spans = [(len(prompt), len(text))]
            add_special = True
        else:
            raise DatasetError(f"line {line}: prompt and completion must both be strings "
                               "or both be message lists.")
    elif "text" in record and isinstance(record["text"], str):
        eos = tokenizer.eos_token or ""
        text = record["text"] if record["text"].endswith(eos) else record["text"] + eos
        spans = [(0, len(text))]
        add_special = True
    else:
        raise DatasetError(f"line {line}: expected 'messages', 'prompt'+'completion' or 'text'.")

    encoded = tokenizer(text, add_special_tokens=add_special, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    offsets = encoded["offset_mapping"]
    trained = [False] * len(ids)
    for j, (start, end) in enumerate(offsets):
        if j == 0 or end <= start:
            continue  # added special tokens have empty offsets and are never targets
        # A token overlapping a trained span is trained (e.g. ' 3' across a prompt's
        # trailing space and the completion).
        trained[j] = any(start < b and end > a for a, b in spans)
    return TokenizedExample(input_ids=ids, trained=trained, line=line)


def prepare_examples(tokenizer: Any, records: list[tuple[int, dict[str, Any]]], *,
                     max_seq_len: int, over_length: str) -> tuple[list[TokenizedExample],
                                                                  DataReport]:
    """Encode all records; truncate or drop the over-long ones and report it."""
    report = DataReport(n_lines=len(records))
    examples: list[TokenizedExample] = []
    for line, record in records:
        example = encode_record(tokenizer, record, line)
        if len(example.input_ids) > max_seq_len:
            if over_length == "drop":
                report.dropped.append({"line": line, "reason": "too_long",
                                       "tokens": len(example.input_ids)})
                continue
            example = TokenizedExample(example.input_ids[:max_seq_len],
                                       example.trained[:max_seq_len], line)
            report.truncated_lines.append(line)
        if example.n_trained == 0:
            report.dropped.append({"line": line, "reason": "no_trained_tokens",
                                   "tokens": len(example.input_ids)})
            continue
        examples.append(example)
        report.total_tokens += len(example.input_ids)
        report.trained_tokens += example.n_trained
    report.n_used = len(examples)
    return examples, report
