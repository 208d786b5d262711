"""Packing without cross-example attention, and a loss computed only where it counts.

Several examples are concatenated into one row (no padding). Each example keeps its own
position ids (0, 1, 2, ... restarting per example) and attention is computed *separately
per example* by a custom attention function registered with transformers, so no token
can ever attend to another example. On CPU this is also faster than one block-diagonal
mask, which still computes every score of the row.

The language-model head runs only at positions whose next token is trained, which skips
most of the (vocabulary-sized) projection for chat data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuneport.local.data import TokenizedExample

if TYPE_CHECKING:
    import torch

__all__ = [
    "ATTN_IMPLEMENTATION",
    "PackedBatch",
    "group_by_length",
    "group_micro_batches",
    "pack",
    "packed_loss",
    "register_packed_attention",
]

ATTN_IMPLEMENTATION = "tuneport_packed"
SEQ_LENS_KWARG = "tuneport_seq_lens"


@dataclass
class PackedBatch:
    """One packed row and where its loss is computed."""

    input_ids: torch.Tensor  # (1, T)
    position_ids: torch.Tensor  # (1, T)
    seq_lens: list[int]
    pred_positions: torch.Tensor  # (K,) positions whose output predicts a trained token
    targets: torch.Tensor  # (K,) the trained token ids
    n_tokens: int
    n_trained: int


def group_micro_batches(examples: list[TokenizedExample], indices: list[int],
                        tokens_per_micro_batch: int) -> list[list[int]]:
    """Split one optimizer step's examples into rows of at most ``tokens_per_micro_batch``.

    An example longer than the cap gets a row of its own.
    """
    return group_by_length(indices, lambda i: len(examples[i].input_ids),
                           tokens_per_micro_batch)


def group_by_length(indices: list[int], length_of: Callable[[int], int],
                    budget: int) -> list[list[int]]:
    """Greedy rows of consecutive ``indices`` whose lengths sum to at most ``budget``.

    An item longer than the budget gets a row of its own. Shared by supervised examples
    and DPO pairs, so both batch the same way.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in indices:
        length = length_of(index)
        if current and size + length > budget:
            groups.append(current)
            current, size = [], 0
        current.append(index)
        size += length
    if current:
        groups.append(current)
    return groups


def pack(examples: list[TokenizedExample], indices: list[int]) -> PackedBatch:
    """Concatenate examples into one row with per-example position ids."""
    import torch

    ids: list[int] = []
    positions: list[int] = []
    pred: list[int] = []
    targets: list[int] = []
    seq_lens: list[int] = []
    for index in indices:
        example = examples[index]
        offset = len(ids)
        ids.extend(example.input_ids)
        positions.extend(range(len(example.input_ids)))
        seq_lens.append(len(example.input_ids))
        for j in range(1, len(example.input_ids)):
            if example.trained[j]:
                pred.append(offset + j - 1)
                targets.append(example.input_ids[j])
    return PackedBatch(
        input_ids=torch.tensor([ids], dtype=torch.long),
        position_ids=torch.tensor([positions], dtype=torch.long),
        seq_lens=seq_lens,
        pred_positions=torch.tensor(pred, dtype=torch.long),
        targets=torch.tensor(targets, dtype=torch.long),
        n_tokens=len(ids),
        n_trained=len(targets),
    )


def _packed_attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, dropout: float = 0.0,
                      scaling: float | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Causal attention computed per example of a packed row (shapes: (B, H, T, D))."""
    import torch
    from torch.nn import functional

    seq_lens: list[int] | None = kwargs.get(SEQ_LENS_KWARG)
    pairs = kwargs.get("tuneport_pairs")  # dpo.PAIRS_KWARG: packed preference pairs
    if pairs is not None:
        from tuneport.local.dpo import pair_attention

        return pair_attention(query, key, value, pairs, dropout=dropout if module.training
                              else 0.0, scaling=scaling,
                              gqa=query.shape[1] != key.shape[1]), None
    if seq_lens is None:
        # Not a packed call (e.g. generation): plain SDPA with the usual mask.
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask,
                                      dropout=dropout, scaling=scaling, **kwargs)
    gqa = query.shape[1] != key.shape[1]
    drop = dropout if module.training else 0.0
    pieces = []
    start = 0
    for length in seq_lens:
        end = start + length
        pieces.append(functional.scaled_dot_product_attention(
            query[:, :, start:end], key[:, :, start:end], value[:, :, start:end],
            is_causal=True, dropout_p=drop, scale=scaling, enable_gqa=gqa,
        ))
        start = end
    out = torch.cat(pieces, dim=2) if len(pieces) > 1 else pieces[0]
    return out.transpose(1, 2).contiguous(), None


def register_packed_attention() -> str:
    """Register the per-example attention with transformers; returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(ATTN_IMPLEMENTATION, _packed_attention)
    return ATTN_IMPLEMENTATION


def causal_lm_of(model: Any) -> Any:
    """The transformers causal LM inside a PEFT / DDP wrapper."""
    inner = getattr(model, "module", model)  # DistributedDataParallel
    if hasattr(inner, "get_base_model"):
        inner = inner.get_base_model()
    return inner


def packed_loss(model: Any, batch: PackedBatch) -> torch.Tensor:
    """Sum of the cross-entropy over the batch's trained tokens (divide by the step's count)."""
    import torch
    from torch.nn import functional

    causal_lm = causal_lm_of(model)
    device = next(causal_lm.parameters()).device
    decoder = causal_lm.get_decoder()
    outputs = decoder(
        input_ids=batch.input_ids.to(device),
        position_ids=batch.position_ids.to(device),
        use_cache=False,  # a cache would make transformers treat the row as one sequence
        **{SEQ_LENS_KWARG: batch.seq_lens},
    )
    hidden = outputs.last_hidden_state[0]
    head = causal_lm.get_output_embeddings()
    if batch.n_trained == 0:
        # Still through the head: DDP/FSDP expect every trainable parameter in the graph.
        zero: torch.Tensor = head(hidden[:1]).float().sum() * 0.0
        return zero
    selected = hidden.index_select(0, batch.pred_positions.to(device))
    logits = head(selected).float()
    softcap = getattr(causal_lm.config, "final_logit_softcapping", None)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    loss: torch.Tensor = functional.cross_entropy(logits, batch.targets.to(device),
                                                  reduction="sum")
    return loss
