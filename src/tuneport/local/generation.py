"""Batched generation for a local model: many conversations per forward pass.

Evaluation asks one model hundreds of questions. One ``generate`` call per question leaves
the hardware idle between short prompts; here prompts of similar length are grouped,
left-padded (so every row's last prompt token sits at the same position and new tokens are
appended in step), and decoded together with the KV cache. Greedy by default, so the replies
are the ones :meth:`tuneport.local.serving.LocalModel.chat` gives one by one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneport.local.serving import ChatResult, LocalModel

__all__ = ["DEFAULT_BATCH_SIZE", "end_of_turn_ids", "generate_batch"]

#: Conversations per forward pass; large enough to keep a CPU or small GPU busy, small
#: enough that one long prompt does not pad a whole batch to its length.
DEFAULT_BATCH_SIZE = 16


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """Token ids that end a reply: the tokenizer's EOS and ChatML's ``<|im_end|>``."""
    ids = {tokenizer.eos_token_id}
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    ids.discard(None)
    return sorted(ids)


def generate_batch(model: LocalModel, conversations: Sequence[list[dict[str, Any]]], *,
                   max_tokens: int = 128, use_adapter: bool = True,
                   batch_size: int = DEFAULT_BATCH_SIZE) -> list[ChatResult]:
    """Greedy replies to many conversations, in the order given.

    Args:
        model: the loaded base model (and adapter).
        conversations: OpenAI-style message lists.
        max_tokens: the most new tokens per reply.
        use_adapter: False answers with the base model alone (the adapter switched off).
        batch_size: conversations per forward pass.

    Returns:
        One :class:`~tuneport.local.serving.ChatResult` per conversation.
    """
    import torch
    from transformers import GenerationConfig

    from tuneport.local.serving import ChatResult

    tokenizer = model.tokenizer
    prompts = [str(tokenizer.apply_chat_template(
        [{"role": m["role"], "content": m.get("content") or ""} for m in conv],
        tokenize=False, add_generation_prompt=True)) for conv in conversations]
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    eos = end_of_turn_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    config = GenerationConfig(  # type: ignore[no-untyped-call]
        max_new_tokens=max_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
        eos_token_id=eos, pad_token_id=pad,
    )
    device = next(model.model.parameters()).device
    # Similar lengths together: less padding, and the order is restored at the end.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    results: dict[int, ChatResult] = {}
    switch_off = (model.model.disable_adapter() if (model.has_adapter and not use_adapter)
                  else contextlib.nullcontext())
    with model._lock, switch_off, torch.no_grad():
        for start in range(0, len(order), max(1, batch_size)):
            rows = order[start:start + max(1, batch_size)]
            width = max(len(encoded[i]) for i in rows)
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(rows):
                n = len(encoded[i])
                ids[r, width - n:] = torch.tensor(encoded[i], dtype=torch.long)
                mask[r, width - n:] = 1
            output = model.model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                          generation_config=config)
            for r, i in enumerate(rows):
                new = output[r, width:].tolist()
                cut = next((k for k, t in enumerate(new) if t in eos), None)
                finish = "length" if cut is None else "stop"
                kept = new if cut is None else new[:cut + 1]
                text = tokenizer.decode(kept, skip_special_tokens=True).strip()
                results[i] = ChatResult(text=text, prompt_tokens=len(encoded[i]),
                                        completion_tokens=len(kept), finish_reason=finish)
    return [results[i] for i in range(len(encoded))]
