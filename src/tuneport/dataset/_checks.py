"""Per-record checks: one pass over a parsed JSON object, no canonical objects built.

The hot loop of validation lives here, so it works on the raw dicts and appends the strings
to tokenize to a list instead of building ``Message`` objects (``_build`` does that, only
when examples are asked for).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tuneport.dataset._preference import canonical_preference, is_common_shape
from tuneport.dataset._targets import KNOWN_ROLES, TargetRules

__all__ = ["RecordChecker", "detect_format", "joined_text"]

CHAT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
PREF_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
PREF_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
COMPLETION_KEYS = frozenset({"prompt", "completion"})
TEXT_KEYS = frozenset({"text"})
MSG_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id"})

AddIssue = Callable[..., None]


def detect_format(obj: dict[str, Any]) -> str | None:
    """The format an object claims by its keys, or None."""
    if "messages" in obj:
        return "chat"
    if "input" in obj or "preferred_output" in obj or "non_preferred_output" in obj:
        return "preference"
    if "chosen" in obj or "rejected" in obj:  # the prompt/chosen/rejected preference shape
        return "preference"
    if "prompt" in obj or "completion" in obj:
        return "completion"
    if "text" in obj:
        return "text"
    return None


def joined_text(content: list[Any]) -> str | None:
    """The text of a list of content parts, or None when it holds anything but text parts."""
    out = []
    for part in content:
        if type(part) is not dict or part.get("type") != "text":
            return None
        if type(part.get("text")) is not str:
            return None
        out.append(part["text"])
    return "".join(out)


class RecordChecker:
    """Checks records against the generic rules and each target's rules.

    Args:
        rules: the rules of every target checked.
        add: ``add(line, code, message, targets, severity=None)`` records one issue.
    """

    def __init__(self, rules: dict[str, TargetRules], add: AddIssue) -> None:
        self.rules = rules
        self.add = add
        self.all = tuple(rules)
        ts = self.all
        self.role_unsupported = {
            role: tuple(t for t in ts if role not in rules[t].roles) for role in KNOWN_ROLES
        }
        self.no_tools = tuple(t for t in ts if not rules[t].supports_tools)
        self.no_images = tuple(t for t in ts if not rules[t].supports_images)
        self.alternating = tuple(t for t in ts if rules[t].requires_alternation)
        self.system_first = tuple(t for t in ts if rules[t].system_first)
        self.names = 0  # 'name' fields in the last checked record (each costs a token)
        self.roles: list[str] = []  # roles of the last checked record, in order

    # -- one record --------------------------------------------------------------------

    def check(self, obj: dict[str, Any], fmt: str, line: int, texts: list[str]) -> int:
        """Check one object of format ``fmt``; append its texts to ``texts``.

        Returns:
            The number of messages counted for template overhead, or -1 when the record is
            unusable (no example; the issue was recorded).
        """
        self.names = 0
        self.roles = []
        if fmt == "chat":
            return self._chat(obj, line, texts)
        if fmt == "completion":
            return self._completion(obj, line, texts)
        if fmt == "text":
            return self._text(obj, line, texts)
        return self._preference(obj, line, texts)

    def _unknown_keys(self, obj: dict[str, Any], known: frozenset[str], line: int,
                      where: str) -> None:
        if not known.issuperset(obj):
            for key in obj:
                if key not in known:
                    self.add(line, "unknown_key",
                             f"Unknown key {key!r}{where}; tuneport drops it when rendering. "
                             f"Known keys: {', '.join(sorted(known))}.", self.all)

    def _completion(self, obj: dict[str, Any], line: int, texts: list[str]) -> int:
        self._unknown_keys(obj, COMPLETION_KEYS, line, "")
        ok = True
        for key in ("prompt", "completion"):
            value = obj.get(key)
            if value is None:
                self.add(line, "missing_key",
                         f"Missing {key!r}: a prompt/completion line needs both keys.", self.all)
                ok = False
            elif type(value) is not str:
                self.add(line, "wrong_type", f"{key!r} must be a string, not "
                         f"{type(value).__name__}.", self.all)
                ok = False
        if not ok:
            return -1
        if not obj["completion"] or obj["completion"].isspace():
            self.add(line, "empty_content",
                     "'completion' is empty: give the text the model should learn to write.",
                     self.all)
        texts.append(obj["prompt"])
        texts.append(obj["completion"])
        return 0

    def _text(self, obj: dict[str, Any], line: int, texts: list[str]) -> int:
        self._unknown_keys(obj, TEXT_KEYS, line, "")
        value = obj["text"]
        if type(value) is not str:
            self.add(line, "wrong_type", f"'text' must be a string, not {type(value).__name__}.",
                     self.all)
            return -1
        if not value or value.isspace():
            self.add(line, "empty_content", "'text' is empty: remove the line or fill it.",
                     self.all)
        texts.append(value)
        return 0

    def _tools(self, tools: Any, line: int, texts: list[str], where: str = "") -> bool:
        if tools is None:
            return False
        if type(tools) is not list:
            self.add(line, "wrong_type", f"'tools'{where} must be a list of tool definitions.",
                     self.all)
            return False
        if tools:
            texts.append(json.dumps(tools, separators=(",", ":"), ensure_ascii=False))
        return bool(tools)

    def _chat(self, obj: dict[str, Any], line: int, texts: list[str]) -> int:
        if len(obj) > 1:
            self._unknown_keys(obj, CHAT_KEYS, line, "")
        messages = obj["messages"]
        if type(messages) is not list:
            self.add(line, "wrong_type", "'messages' must be a list of message objects.",
                     self.all)
            return -1
        uses_tools = self._tools(obj.get("tools"), line, texts)
        ptc = obj.get("parallel_tool_calls")
        if ptc is not None and type(ptc) is not bool:
            self.add(line, "wrong_type", "'parallel_tool_calls' must be true or false.",
                     self.all)
        n = self._messages(messages, line, texts, uses_tools, require_assistant=True)
        return n

    def _messages(self, messages: list[Any], line: int, texts: list[str], uses_tools: bool,
                  *, require_assistant: bool, where: str = "messages") -> int:
        if not messages:
            self.add(line, "empty_messages",
                     f"'{where}' is empty: add at least a user and an assistant message.",
                     self.all)
            return -1
        add = self.add
        trained = 0
        has_assistant = False
        prev_role: str | None = None
        first_turn: str | None = None
        open_calls: dict[str, int] = {}
        unanswered: list[tuple[str, int]] = []
        names = 0
        last = len(messages) - 1
        for i, m in enumerate(messages):
            if type(m) is not dict:
                add(line, "wrong_type", f"{where}[{i}] must be an object with 'role' and "
                    "'content'.", self.all)
                return -1
            role = m.get("role")
            if type(role) is not str:
                if role is None:
                    add(line, "missing_key", f"{where}[{i}] has no 'role': set it to system, "
                        "user, assistant or tool.", self.all)
                else:
                    add(line, "wrong_type", f"{where}[{i}].role must be a string.", self.all)
                return -1
            self.roles.append(role)
            if len(m) > 2 and not MSG_KEYS.issuperset(m):
                self._unknown_keys(m, MSG_KEYS, line, f" in {where}[{i}]")
            bad = self.role_unsupported.get(role)
            if bad is None:
                add(line, "unknown_role", f"{where}[{i}] has role {role!r}; use system, user, "
                    "assistant or tool.", self.all)
            elif bad:
                add(line, "unsupported_role", f"{where}[{i}] has role {role!r}, which "
                    f"{', '.join(bad)} does not accept; change it to system or user.", bad)
            tool_calls = m.get("tool_calls")
            if tool_calls is not None:
                if role != "assistant" or type(tool_calls) is not list:
                    add(line, "invalid_tool_call", f"{where}[{i}].tool_calls must be a list "
                        "on an assistant message.", self.all)
                    tool_calls = None
                else:
                    uses_tools = True
                    for call in tool_calls:
                        cid = self._tool_call(call, line, i, where)
                        if cid is not None:
                            open_calls[cid] = i
                    if tool_calls:
                        texts.append(json.dumps(tool_calls, separators=(",", ":"),
                                                ensure_ascii=False))
            content = m.get("content")
            if type(content) is str:
                if (not content or content.isspace()) and not tool_calls:
                    add(line, "empty_content", f"{where}[{i}] ({role}) has empty content: "
                        "write the text or remove the message.", self.all)
                texts.append(content)
            elif content is None:
                if not tool_calls:
                    what = "no 'content'" if "content" not in m else "null content"
                    add(line, "empty_content", f"{where}[{i}] ({role}) has {what}: write the "
                        "text or remove the message.", self.all)
            elif type(content) is list:
                self._parts(content, role, line, i, where, texts)
            else:
                add(line, "wrong_type", f"{where}[{i}].content must be a string or a list of "
                    "content parts.", self.all)
                return -1
            name = m.get("name")
            if name is not None:
                if type(name) is str:
                    names += 1
                    texts.append(name)
                else:
                    add(line, "wrong_type", f"{where}[{i}].name must be a string.", self.all)
            weight = m.get("weight")
            if weight is not None:
                if type(weight) is not int or weight not in (0, 1):
                    add(line, "invalid_weight", f"{where}[{i}].weight is {weight!r}; use 0 "
                        "(do not train on this message) or 1.", self.all)
                elif role != "assistant":
                    add(line, "weight_on_non_assistant", f"{where}[{i}] ({role}) has a weight; "
                        "weights apply to assistant messages only, remove it.", self.all)
            if role == "assistant":
                has_assistant = True
                if weight != 0:
                    trained += 1
            elif role == "tool":
                uses_tools = True
                cid = m.get("tool_call_id")
                if cid is None:
                    add(line, "missing_key", f"{where}[{i}] (tool) has no 'tool_call_id': set "
                        "it to the id of the tool call it answers.", self.all)
                elif type(cid) is not str or cid not in open_calls:
                    add(line, "tool_response_without_call", f"{where}[{i}] answers tool call "
                        f"{cid!r}, which no earlier assistant message made; fix the id.",
                        self.all)
                else:
                    del open_calls[cid]
            elif role == "system" and i > 0 and self.system_first:
                add(line, "system_not_first", f"{where}[{i}] is a system message after "
                    "the first message; move it to the start or make it a user message.",
                    self.system_first)
            if role != "system" and first_turn is None:
                first_turn = role
            if (self.alternating and role == prev_role and role in ("user", "assistant")):
                add(line, "consecutive_same_role", f"{where}[{i - 1}] and {where}[{i}] are both "
                    f"{role}; merge them or insert the missing turn.", self.alternating)
            if open_calls and role == "user":
                unanswered.extend((c, j) for c, j in open_calls.items())
                open_calls.clear()
            prev_role = role
        # Calls in the final assistant message teach the model to call tools: no answer needed.
        unanswered.extend((c, j) for c, j in open_calls.items() if j != last)
        for cid, j in unanswered:
            add(line, "tool_call_without_response", f"{where}[{j}] calls tool {cid!r} but no "
                "tool message answers it; add a tool message with this tool_call_id.", self.all)
        if uses_tools and self.no_tools:
            add(line, "unsupported_tools", f"This example uses tools; {', '.join(self.no_tools)}"
                " does not train with tools.", self.no_tools)
        if self.alternating and first_turn is not None and first_turn != "user":
            add(line, "invalid_turn_order", f"The first message after the system message is "
                f"{first_turn}; it must be user.", self.alternating)
        if require_assistant:
            if not trained:
                why = ("every assistant message has weight 0" if has_assistant
                       else "there is no assistant message")
                add(line, "no_assistant_target", f"Nothing to learn: {why}. Add an assistant "
                    "reply with weight 1.", self.all)
            elif prev_role not in ("assistant",):
                add(line, "trailing_non_assistant", f"The last message is {prev_role}; messages "
                    "after the last assistant reply teach nothing, remove them.", self.all)
        self.names = names
        return len(messages)

    def _parts(self, content: list[Any], role: str, line: int, i: int, where: str,
               texts: list[str]) -> None:
        add = self.add
        if not content:
            add(line, "empty_content", f"{where}[{i}] ({role}) has an empty content list.",
                self.all)
            return
        text = joined_text(content)
        if text is not None:
            if not text or text.isspace():
                add(line, "empty_content", f"{where}[{i}] ({role}) has only empty text parts.",
                    self.all)
            texts.append(text)
            return
        for k, part in enumerate(content):
            ptype = part.get("type") if type(part) is dict else None
            text_part = part.get("text") if ptype == "text" else None
            if type(text_part) is str:
                texts.append(text_part)
            elif ptype == "image_url" and role == "user":
                if self.no_images:
                    add(line, "unsupported_content_part", f"{where}[{i}].content[{k}] is an "
                        f"image; {', '.join(self.no_images)} trains on text only.",
                        self.no_images)
            else:
                add(line, "unsupported_content_part", f"{where}[{i}].content[{k}] has type "
                    f"{ptype!r}; use {{'type': 'text', 'text': ...}} parts (images only on user "
                    "messages).", self.all)

    def _tool_call(self, call: Any, line: int, i: int, where: str) -> str | None:
        ok = (type(call) is dict and type(call.get("id")) is str
              and call.get("type", "function") == "function"
              and type(call.get("function")) is dict
              and type(call["function"].get("name")) is str
              and type(call["function"].get("arguments")) is str)
        if not ok:
            self.add(line, "invalid_tool_call", f"{where}[{i}].tool_calls has a call without "
                     "id, type 'function', function.name and function.arguments (a JSON "
                     "string).", self.all)
            return None
        cid: str = call["id"]
        return cid

    def _preference(self, obj: dict[str, Any], line: int, texts: list[str]) -> int:
        if is_common_shape(obj):
            if "prompt" not in obj:
                self.add(line, "missing_key", "Missing 'prompt': a prompt/chosen/rejected line "
                         "needs all three keys.", self.all)
                return -1
            obj = canonical_preference(obj)  # checked (and reported) in OpenAI's shape
        self._unknown_keys(obj, PREF_KEYS, line, "")
        inp = obj.get("input")
        if inp is None:
            self.add(line, "missing_key", "Missing 'input': a preference line needs "
                     "{'input': {'messages': [...]}, 'preferred_output': [...], "
                     "'non_preferred_output': [...]}.", self.all)
            return -1
        if type(inp) is not dict or type(inp.get("messages")) is not list:
            self.add(line, "wrong_type", "'input' must be an object with a 'messages' list.",
                     self.all)
            return -1
        self._unknown_keys(inp, PREF_INPUT_KEYS, line, " in 'input'")
        uses_tools = self._tools(inp.get("tools"), line, texts, " in 'input'")
        n = self._messages(inp["messages"], line, texts, uses_tools, require_assistant=False,
                           where="input.messages")
        if n < 0:
            return -1
        last = inp["messages"][-1]
        if last.get("role") == "assistant":
            self.add(line, "preference_prompt_ends_with_assistant", "The last input message is "
                     "an assistant message; the input must end with the user turn the outputs "
                     "answer. Move that reply into the outputs or drop it.", self.all)
        for key in ("preferred_output", "non_preferred_output"):
            out = obj.get(key)
            if out is None:
                self.add(line, "missing_key", f"Missing {key!r}: give a list with one "
                         "assistant message.", self.all)
                return -1
            if (type(out) is not list or len(out) != 1 or type(out[0]) is not dict
                    or out[0].get("role") != "assistant"):
                self.add(line, "invalid_preference", f"{key!r} must be a list holding exactly "
                         "one assistant message.", self.all)
                return -1
            content = out[0].get("content")
            if type(content) is list:
                content = joined_text(content)
            if type(content) is not str or not content or content.isspace():
                self.add(line, "empty_preference_output", f"{key!r}[0] needs non-empty text "
                         "content: a side with nothing to prefer teaches nothing.", self.all)
                return -1
            texts.append(content)
            self.roles.append("assistant")
        if texts[-1] == texts[-2]:
            self.add(line, "identical_preference_outputs", "preferred_output and "
                     "non_preferred_output are the same reply, so the pair prefers nothing; "
                     "make the rejected reply the worse answer or drop the line.", self.all)
            return -1
        return n + 2
