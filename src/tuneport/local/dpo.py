"""Preference tuning (DPO) in the local trainer: pairs, their packed layout, the loss.

Layout: a pair is packed as ``[prompt, chosen, rejected]`` in one row, the prompt's
tokens **once**. Chosen tokens attend to the prompt and to earlier chosen tokens (plain
causal attention over ``prompt + chosen``); rejected tokens attend to the prompt and to
earlier rejected tokens, never to the chosen reply (:func:`pair_attention` gives them the
prompt's keys plus their own, with a causal mask on their own part). Position ids restart
after the prompt for each reply, so each reply sees exactly what it sees alone. Pairs in
one row never attend to each other. This computes the prompt once instead of twice (the
padded ``[chosen; rejected]`` batch of the usual implementation runs it twice) and pads
nothing.

Log-probabilities are summed over each reply's tokens (every reply token is trained, as
TRL's DPOTrainer does), computing the LM head only at those positions. The loss is the
sigmoid DPO loss ``-log σ(β((π_c - ref_c) - (π_r - ref_r)))``, averaged over the pairs of
an optimizer step.

Reference model: for LoRA the same base with the adapter switched off (no second copy in
memory), run under ``no_grad`` on the same packed rows each step. For full fine-tuning the
reference log-probabilities are computed once, before the first step, by the untouched
model, and kept (two floats per pair): a frozen copy would double the weights' memory and
add a forward pass to every step of every epoch, while one pass over the data costs one
forward per pair in all (see docs/preference.md for the measured figures).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuneport._exceptions import DatasetError
from tuneport.local.packing import group_by_length

if TYPE_CHECKING:
    import torch

__all__ = [
    "PAIRS_KWARG",
    "PairBatch",
    "PairReport",
    "TokenizedPair",
    "canonical_pair",
    "dpo_terms",
    "encode_pair",
    "group_pairs",
    "pack_pairs",
    "pair_attention",
    "pair_logps",
    "prepare_pairs",
    "reference_off",
]

PAIRS_KWARG = "tuneport_pairs"


@dataclass(frozen=True)
class TokenizedPair:
    """One preference pair: shared prompt tokens, then each reply's tokens (all trained)."""

    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]
    line: int

    @property
    def n_tokens(self) -> int:
        """Tokens in the packed row (the prompt counted once)."""
        return len(self.prompt_ids) + len(self.chosen_ids) + len(self.rejected_ids)

    @property
    def n_trained(self) -> int:
        """Reply tokens whose log-probability enters the loss."""
        return len(self.chosen_ids) + len(self.rejected_ids)


@dataclass
class PairReport:
    """What happened to the pairs of one file (never silent about drops)."""

    n_lines: int = 0
    n_used: int = 0
    truncated_lines: list[int] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    total_tokens: int = 0
    trained_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (line lists capped for readability)."""
        return {
            "n_lines": self.n_lines, "n_used": self.n_used,
            "n_truncated": len(self.truncated_lines),
            "truncated_lines": self.truncated_lines[:50],
            "n_dropped": len(self.dropped), "dropped": self.dropped[:50],
            "total_tokens": self.total_tokens, "trained_tokens": self.trained_tokens,
        }


def _as_messages(value: Any, role: str, what: str, line: int) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        return [dict(m) for m in value]
    raise DatasetError(f"line {line}: {what!r} must be a string or a non-empty list of "
                       "messages.")


def canonical_pair(record: dict[str, Any], line: int) -> tuple[list[dict[str, Any]],
                                                               dict[str, Any], dict[str, Any],
                                                               Any]:
    """(prompt messages, chosen message, rejected message, tools) of a preference record.

    Reads OpenAI's shape (``input``/``preferred_output``/``non_preferred_output``) and the
    ``prompt``/``chosen``/``rejected`` shape (strings or message lists).
    """
    if "input" in record:
        inp = record["input"]
        if not isinstance(inp, dict):
            raise DatasetError(f"line {line}: 'input' must be an object with 'messages'.")
        prompt = _as_messages(inp.get("messages"), "user", "input.messages", line)
        sides = [record.get("preferred_output"), record.get("non_preferred_output")]
        names = ("preferred_output", "non_preferred_output")
        tools = inp.get("tools")
    elif "chosen" in record and "rejected" in record:
        prompt = _as_messages(record.get("prompt"), "user", "prompt", line)
        sides = [record["chosen"], record["rejected"]]
        names = ("chosen", "rejected")
        tools = record.get("tools")
    else:
        raise DatasetError(f"line {line}: a preference line needs 'input' + 'preferred_output' "
                           "+ 'non_preferred_output' (or 'prompt' + 'chosen' + 'rejected').")
    replies = []
    for side, name in zip(sides, names, strict=True):
        messages = _as_messages(side, "assistant", name, line)
        if len(messages) != 1 or messages[0].get("role") != "assistant":
            raise DatasetError(f"line {line}: {name!r} must be exactly one assistant reply.")
        replies.append({k: v for k, v in messages[0].items() if k != "weight"})
    clean = [{k: v for k, v in m.items() if k != "weight"} for m in prompt]
    return clean, replies[0], replies[1], tools


def _ids(tokenizer: Any, messages: list[dict[str, Any]], tools: Any, *,
         generation: bool) -> list[int]:
    kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": generation}
    if tools:
        kwargs["tools"] = tools
    text = str(tokenizer.apply_chat_template(messages, **kwargs))
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def encode_pair(tokenizer: Any, record: dict[str, Any], line: int) -> TokenizedPair:
    """Tokenize one preference record with the base model's chat template.

    The prompt is rendered with the generation prompt; each reply's tokens are what the
    rendered ``prompt + reply`` adds after the tokens it shares with the prompt (a template
    may render the prompt alone slightly differently, or tokens may merge across the
    boundary: the shared prefix is the prompt both replies are conditioned on).
    """
    if getattr(tokenizer, "chat_template", None) is None:
        raise DatasetError("The base model's tokenizer has no chat template, so preference "
                           "pairs cannot be rendered; use a model with a chat template.")
    prompt, chosen, rejected, tools = canonical_pair(record, line)
    prompt_ids = _ids(tokenizer, prompt, tools, generation=True)
    with_chosen = _ids(tokenizer, [*prompt, chosen], tools, generation=False)
    with_rejected = _ids(tokenizer, [*prompt, rejected], tools, generation=False)
    shared = min(_common_prefix(prompt_ids, with_chosen),
                 _common_prefix(prompt_ids, with_rejected))
    return TokenizedPair(prompt_ids=prompt_ids[:shared], chosen_ids=with_chosen[shared:],
                         rejected_ids=with_rejected[shared:], line=line)


def prepare_pairs(tokenizer: Any, records: list[tuple[int, dict[str, Any]]], *,
                  max_seq_len: int, over_length: str) -> tuple[list[TokenizedPair], PairReport]:
    """Encode all records; cut or drop the pairs whose prompt + reply exceeds ``max_seq_len``.

    The limit applies per side (prompt + chosen, prompt + rejected), as each side is one
    sequence the model reads; cutting keeps the prompt and the start of the reply.
    """
    report = PairReport(n_lines=len(records))
    pairs: list[TokenizedPair] = []
    for line, record in records:
        pair = encode_pair(tokenizer, record, line)
        longest = len(pair.prompt_ids) + max(len(pair.chosen_ids), len(pair.rejected_ids))
        if longest > max_seq_len:
            room = max_seq_len - len(pair.prompt_ids)
            if over_length == "drop" or room < 1:
                report.dropped.append({"line": line, "reason": "too_long", "tokens": longest})
                continue
            pair = TokenizedPair(pair.prompt_ids, pair.chosen_ids[:room],
                                 pair.rejected_ids[:room], line)
            report.truncated_lines.append(line)
        if not pair.chosen_ids or not pair.rejected_ids:
            report.dropped.append({"line": line, "reason": "empty_reply",
                                   "tokens": pair.n_tokens})
            continue
        pairs.append(pair)
        report.total_tokens += pair.n_tokens
        report.trained_tokens += pair.n_trained
    report.n_used = len(pairs)
    return pairs, report


@dataclass
class PairBatch:
    """Packed pairs: one row, the attention layout and where each reply's tokens are."""

    input_ids: torch.Tensor  # (1, T)
    position_ids: torch.Tensor  # (1, T)
    layout: list[tuple[int, int, int]]  # (prompt, chosen, rejected) lengths per pair
    pred_positions: torch.Tensor  # (K,) positions whose output predicts a reply token
    targets: torch.Tensor  # (K,) the reply token ids
    owner: torch.Tensor  # (K,) reply index: 2*i chosen, 2*i+1 rejected of the i-th pair
    indices: list[int]  # the pairs' indices in their list (reference log-probs lookup)
    n_tokens: int
    n_trained: int

    @property
    def n_pairs(self) -> int:
        """How many pairs the row holds."""
        return len(self.layout)


def group_pairs(pairs: list[TokenizedPair], indices: list[int],
                tokens_per_row: int) -> list[list[int]]:
    """Split one step's pairs into rows of at most ``tokens_per_row`` (a longer pair alone)."""
    return group_by_length(indices, lambda i: pairs[i].n_tokens, tokens_per_row)


def pack_pairs(pairs: list[TokenizedPair], indices: list[int]) -> PairBatch:
    """Concatenate pairs into one row as ``[prompt, chosen, rejected]`` each."""
    import torch

    ids: list[int] = []
    positions: list[int] = []
    pred: list[int] = []
    targets: list[int] = []
    owner: list[int] = []
    layout: list[tuple[int, int, int]] = []
    for i, index in enumerate(indices):
        pair = pairs[index]
        start = len(ids)
        p, c, r = len(pair.prompt_ids), len(pair.chosen_ids), len(pair.rejected_ids)
        ids += pair.prompt_ids + pair.chosen_ids + pair.rejected_ids
        positions += list(range(p + c)) + list(range(p, p + r))
        layout.append((p, c, r))
        # Each reply's first token is predicted from the prompt's last position; the
        # others from their own predecessor in the same reply.
        for j in range(c):
            pred.append(start + p - 1 + j)
        for j in range(r):
            pred.append(start + p - 1 if j == 0 else start + p + c + j - 1)
        targets += pair.chosen_ids + pair.rejected_ids
        owner += [2 * i] * c + [2 * i + 1] * r
    return PairBatch(
        input_ids=torch.tensor([ids], dtype=torch.long),
        position_ids=torch.tensor([positions], dtype=torch.long),
        layout=layout,
        pred_positions=torch.tensor(pred, dtype=torch.long),
        targets=torch.tensor(targets, dtype=torch.long),
        owner=torch.tensor(owner, dtype=torch.long),
        indices=list(indices),
        n_tokens=len(ids),
        n_trained=len(targets),
    )


def pair_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   layout: list[tuple[int, int, int]], *, dropout: float,
                   scaling: float | None, gqa: bool) -> torch.Tensor:
    """Attention of packed pairs (shapes (B, H, T, D)); returns (B, T, H, D)."""
    import torch
    from torch.nn import functional

    pieces = []
    start = 0
    for p, c, r in layout:
        head = start + p + c
        pieces.append(functional.scaled_dot_product_attention(
            query[:, :, start:head], key[:, :, start:head], value[:, :, start:head],
            is_causal=True, dropout_p=dropout, scale=scaling, enable_gqa=gqa))
        # Rejected tokens: the prompt's keys, then their own (causal), never the chosen's.
        keys = torch.cat([key[:, :, start:start + p], key[:, :, head:head + r]], dim=2)
        values = torch.cat([value[:, :, start:start + p], value[:, :, head:head + r]], dim=2)
        mask = torch.ones(r, p + r, dtype=torch.bool, device=query.device)
        mask[:, p:] = torch.ones(r, r, dtype=torch.bool, device=query.device).tril()
        pieces.append(functional.scaled_dot_product_attention(
            query[:, :, head:head + r], keys, values, attn_mask=mask, dropout_p=dropout,
            scale=scaling, enable_gqa=gqa))
        start = head + r
    out = torch.cat(pieces, dim=2) if len(pieces) > 1 else pieces[0]
    return out.transpose(1, 2).contiguous()


def pair_logps(model: Any, batch: PairBatch) -> torch.Tensor:
    """Summed log-probability of each reply: ``(2 * n_pairs,)``, chosen/rejected interleaved."""
    import torch
    from torch.nn import functional

    from tuneport.local.packing import causal_lm_of

    causal_lm = causal_lm_of(model)
    device = next(causal_lm.parameters()).device
    outputs = causal_lm.get_decoder()(
        input_ids=batch.input_ids.to(device),
        position_ids=batch.position_ids.to(device),
        use_cache=False,
        **{PAIRS_KWARG: batch.layout},
    )
    hidden = outputs.last_hidden_state[0].index_select(0, batch.pred_positions.to(device))
    logits = causal_lm.get_output_embeddings()(hidden).float()
    softcap = getattr(causal_lm.config, "final_logit_softcapping", None)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    token_logps = -functional.cross_entropy(logits, batch.targets.to(device), reduction="none")
    sums = torch.zeros(2 * batch.n_pairs, dtype=token_logps.dtype, device=device)
    return sums.index_add(0, batch.owner.to(device), token_logps)


def dpo_terms(policy: torch.Tensor, reference: torch.Tensor,
              beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair sigmoid DPO losses and the chosen and rejected rewards.

    ``policy`` and ``reference`` hold summed reply log-probs, chosen/rejected interleaved.
    The rewards are ``β (π - ref)`` per reply, detached (they are reported, not trained).
    """
    from torch.nn import functional

    ratios = policy - reference.to(policy.device, policy.dtype)
    chosen, rejected = ratios[0::2], ratios[1::2]
    losses = -functional.logsigmoid(beta * (chosen - rejected))
    return losses, beta * chosen.detach(), beta * rejected.detach()


@contextlib.contextmanager
def reference_off(model: Any) -> Iterator[None]:
    """Run ``model`` as the reference: a PEFT model with its adapter switched off."""
    inner = getattr(model, "module", model)
    if hasattr(inner, "disable_adapter"):
        with inner.disable_adapter():
            yield
        return
    yield
