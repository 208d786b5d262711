"""A deterministic ``chat.completions`` answer for a served fine-tuned model."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tuneport.emulator._core import ApiError, EmulatorState
from tuneport.emulator._training_files import count_tokens

__all__ = ["completion"]


def completion(state: EmulatorState, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI-shaped chat completion all three providers return for ``model``.

    The reply depends only on the model and the messages, so tests can assert on it.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list.", param="messages")
    if body.get("stream"):
        raise ApiError(400, "The emulator does not stream; call without stream=True.",
                       param="stream")
    last_user = next((m.get("content") for m in reversed(messages)
                      if isinstance(m, dict) and m.get("role") == "user"), "")
    text = last_user if isinstance(last_user, str) else json.dumps(last_user)
    digest = hashlib.sha256(json.dumps([model, messages], sort_keys=True).encode()).hexdigest()
    content = f"[emulated {model}] reply {digest[:8]} to: {text[:200]}"
    prompt_tokens = sum(4 + count_tokens(m.get("content")) for m in messages
                        if isinstance(m, dict))
    completion_tokens = count_tokens(content)
    return {
        "id": "chatcmpl-" + digest[:24], "object": "chat.completion",
        "created": int(state.now()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": None}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
