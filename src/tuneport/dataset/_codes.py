"""The stable issue codes: one place that names every problem the validator can report.

A code never changes meaning once released; docs/validation-codes.md documents each one and a
test checks that every code here appears there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

__all__ = ["CODES", "CodeInfo", "Severity"]


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a code means: its usual severity and a one-line summary for the docs."""

    code: str
    severity: Severity
    summary: str


_ALL = (
    # Reading lines.
    CodeInfo("invalid_utf8", "error", "The line is not valid UTF-8."),
    CodeInfo("blank_line", "warning", "A blank line; it is skipped."),
    CodeInfo("invalid_json", "error", "The line is not valid JSON."),
    CodeInfo("nul_byte", "error", "The line holds NUL bytes (a UTF-16 or binary file?)."),
    CodeInfo("line_too_long", "error", "The line is longer than tuneport reads (32 MiB)."),
    CodeInfo("too_deeply_nested", "error", "JSON nested too deeply to read."),
    CodeInfo("unencodable_text", "error",
             "Text with a lone surrogate (e.g. \\ud800): it cannot be encoded for upload."),
    CodeInfo("corrupt_compression", "error",
             "The compressed file is corrupt or cut short; nothing after it was read."),
    CodeInfo("not_an_object", "error", "The line is JSON but not an object."),
    # Shape of one example.
    CodeInfo("unknown_format", "error", "The object matches none of the four formats."),
    CodeInfo("mixed_formats", "error", "The example's format differs from the file's format."),
    CodeInfo("missing_key", "error", "A required key is missing."),
    CodeInfo("unknown_key", "warning", "A key tuneport does not know; it is dropped on render."),
    CodeInfo("wrong_type", "error", "A value has the wrong JSON type."),
    CodeInfo("empty_messages", "error", "The messages list is empty."),
    CodeInfo("unknown_role", "error", "A message role that no target knows."),
    CodeInfo("unsupported_role", "error", "A role the target does not accept."),
    CodeInfo("empty_content", "error", "A message, prompt, completion or text is empty."),
    CodeInfo("no_assistant_target", "error", "No assistant message with weight 1 to learn from."),
    CodeInfo("trailing_non_assistant", "warning", "Messages after the last assistant turn."),
    CodeInfo("consecutive_same_role", "error", "Two messages in a row with the same role."),
    CodeInfo("system_not_first", "error", "A system message that is not the first message."),
    CodeInfo("invalid_turn_order", "error", "The turns do not start with a user message."),
    CodeInfo("invalid_weight", "error", "A message weight other than 0 or 1."),
    CodeInfo("weight_on_non_assistant", "warning", "A weight on a non-assistant message."),
    CodeInfo("invalid_tool_call", "error", "A tool call without id, type or function."),
    CodeInfo("tool_call_without_response", "error", "A tool call no tool message answers."),
    CodeInfo("tool_response_without_call", "error", "A tool message that answers no tool call."),
    CodeInfo("unsupported_tools", "error", "Tools or tool calls on a target without tools."),
    CodeInfo("unsupported_content_part", "error", "A content part type the target does not take."),
    CodeInfo("invalid_preference", "error", "A preference pair that is not one assistant reply."),
    CodeInfo("empty_preference_output", "error", "A preference side whose reply is empty."),
    CodeInfo("identical_preference_outputs", "error",
             "The preferred and the rejected reply are the same."),
    CodeInfo("preference_prompt_ends_with_assistant", "error",
             "A preference prompt whose last turn is an assistant message."),
    # The whole file, per target.
    CodeInfo("unsupported_format", "error", "The target does not train on this format."),
    CodeInfo("empty_dataset", "error", "No usable example in the file."),
    CodeInfo("too_few_examples", "error", "Fewer examples than the target's minimum."),
    CodeInfo("too_many_examples", "error", "More examples than the target's maximum."),
    CodeInfo("file_too_large", "error", "The file is larger than the target accepts."),
    CodeInfo("too_many_tokens", "warning", "An example longer than the model's limit."),
    CodeInfo("preference_too_long", "warning",
             "A preference pair whose longer side (prompt + one reply) exceeds the limit."),
)

CODES: dict[str, CodeInfo] = {info.code: info for info in _ALL}
