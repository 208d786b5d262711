"""Preference (DPO) data: the ``prompt``/``chosen``/``rejected`` shape read as OpenAI's, and
the rule that a preference method trains on preference data (and only it on it).

The canonical preference example is OpenAI's line schema (``FineTunePreferenceRequestInput``):
``{"input": {"messages": [...], "tools"?: [...]}, "preferred_output": [assistant message],
"non_preferred_output": [assistant message]}``. The shape TRL and most public preference
sets use, ``{"prompt", "chosen", "rejected"}``, holds either strings (a user turn and two
assistant replies) or message lists; :func:`canonical_preference` converts it, so every
later stage (checks, token counts, renderers) sees one shape.
"""

from __future__ import annotations

from typing import Any

from tuneport._exceptions import DatasetError

__all__ = ["COMMON_KEYS", "canonical_preference", "check_method_format", "is_common_shape"]

COMMON_KEYS = frozenset({"prompt", "chosen", "rejected"})


def is_common_shape(obj: dict[str, Any]) -> bool:
    """Whether a record uses the ``prompt``/``chosen``/``rejected`` shape."""
    return "chosen" in obj or "rejected" in obj


def _messages(value: Any, role: str) -> Any:
    # Strings become one message of ``role``; anything else is kept for the checks to judge
    # (a wrong type is reported on the converted record with its canonical key).
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return value


def canonical_preference(obj: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's preference shape of a ``prompt``/``chosen``/``rejected`` record.

    A chosen/rejected message list may repeat the prompt's turns before the reply (as some
    datasets store whole conversations): the shared leading turns are dropped so each side
    holds only its reply. Keys other than the three (and ``tools``) are kept, so the checks
    still report them as unknown.
    """
    prompt = _messages(obj.get("prompt"), "user")
    chosen = _messages(obj.get("chosen"), "assistant")
    rejected = _messages(obj.get("rejected"), "assistant")
    if isinstance(prompt, list) and isinstance(chosen, list) and isinstance(rejected, list):
        n = len(prompt)
        if n and chosen[:n] == prompt and rejected[:n] == prompt:
            chosen, rejected = chosen[n:], rejected[n:]
    inp: dict[str, Any] = {"messages": prompt}
    if "tools" in obj:
        inp["tools"] = obj["tools"]
    out: dict[str, Any] = {"input": inp}
    if chosen is not None:
        out["preferred_output"] = chosen
    if rejected is not None:
        out["non_preferred_output"] = rejected
    for key, value in obj.items():
        if key not in COMMON_KEYS and key != "tools":
            out[key] = value
    if "prompt" not in obj:
        del out["input"]
    return out


def check_method_format(method: str, fmt: str) -> None:
    """Refuse a preference method on non-preference data, and preference data without one.

    Raises:
        DatasetError: the method and the data's format do not go together (says the fix).
    """
    dpo = method.startswith("dpo")
    if dpo and fmt != "preference":
        raise DatasetError(
            f"method={method!r} trains on preference pairs, but the dataset is {fmt} data. "
            "Give lines like {'input': {'messages': [...]}, 'preferred_output': [...], "
            "'non_preferred_output': [...]} (or 'prompt'/'chosen'/'rejected'), or use "
            "method='lora'/'full' for supervised training.")
    if fmt == "preference" and not dpo:
        raise DatasetError(
            f"The dataset holds preference pairs, which method={method!r} (supervised) cannot "
            "train on; use method='dpo-lora' or 'dpo-full'.")
