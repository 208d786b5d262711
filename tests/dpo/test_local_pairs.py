"""Local DPO data and layout: pairs tokenized as a chat model reads them, packed with the
prompt once, and log-probs equal to running each side alone through the model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tuneport._exceptions import DatasetError  # noqa: E402
from tuneport.local.dpo import (  # noqa: E402
    canonical_pair,
    encode_pair,
    pack_pairs,
    pair_logps,
    prepare_pairs,
)
from tuneport.local.models import load_model, load_tokenizer  # noqa: E402
from tuneport.local.packing import register_packed_attention  # noqa: E402
from tuneport.testing import tiny_preference_examples  # noqa: E402


def _alone(model: object, ids: list[int], start: int) -> float:
    """Sum of log p(ids[j] | ids[:j]) for j >= start, the model run on one sequence."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()  # type: ignore[operator]
    logps = torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    return float(logps[start - 1:].sum())


def test_packed_pairs_give_each_side_its_own_log_probs(tiny_model_path: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_path))
    packed_model = load_model(str(tiny_model_path), attn_implementation=register_packed_attention())
    plain = load_model(str(tiny_model_path), attn_implementation="eager")
    records = [(i + 1, r) for i, r in enumerate(tiny_preference_examples(6, seed=3))]
    pairs, report = prepare_pairs(tokenizer, records, max_seq_len=512, over_length="truncate")
    assert report.n_used == 6
    # Unequal reply lengths, so a wrong mask or position would show.
    assert any(len(p.chosen_ids) != len(p.rejected_ids) for p in pairs)
    batch = pack_pairs(pairs, [4, 0, 2, 5])
    assert batch.n_tokens == sum(pairs[i].n_tokens for i in [4, 0, 2, 5])
    with torch.no_grad():
        got = pair_logps(packed_model, batch)
    want = []
    for i in [4, 0, 2, 5]:
        p = pairs[i]
        want.append(_alone(plain, p.prompt_ids + p.chosen_ids, len(p.prompt_ids)))
        want.append(_alone(plain, p.prompt_ids + p.rejected_ids, len(p.prompt_ids)))
    assert got.tolist() == pytest.approx(want, rel=1e-5, abs=1e-4)


def test_a_pair_is_prompt_then_each_reply_as_the_chat_template_renders_it(
        tiny_model_path: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_path))
    record = tiny_preference_examples(1)[0]
    pair = encode_pair(tokenizer, record, 1)
    prompt = tokenizer.decode(pair.prompt_ids)
    assert prompt.endswith("<|im_start|>assistant\n")
    chosen = record["preferred_output"][0]["content"]
    assert tokenizer.decode(pair.chosen_ids) == chosen + "<|im_end|>\n"
    assert tokenizer.decode(pair.rejected_ids).startswith(
        record["non_preferred_output"][0]["content"])


def test_prompt_chosen_rejected_shape_reads_like_the_canonical_one(
        tiny_model_path: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_path))
    canonical = tiny_preference_examples(1)[0]
    messages = canonical["input"]["messages"]
    common = {"prompt": messages, "chosen": canonical["preferred_output"],
              "rejected": canonical["non_preferred_output"]}
    assert encode_pair(tokenizer, common, 1) == encode_pair(tokenizer, canonical, 1)
    strings = {"prompt": "Hi", "chosen": "Hello!", "rejected": "Go."}
    prompt, chosen, rejected, _ = canonical_pair(strings, 1)
    assert prompt == [{"role": "user", "content": "Hi"}]
    assert (chosen["content"], rejected["content"]) == ("Hello!", "Go.")


def test_over_long_pairs_are_cut_per_side_or_dropped(tiny_model_path: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_path))
    rng = random.Random(0)
    long_reply = " ".join(rng.choice(["cow", "red", "blue"]) for _ in range(200))
    record = {"prompt": "Say many words", "chosen": long_reply, "rejected": "No."}
    pairs, report = prepare_pairs(tokenizer, [(7, record)], max_seq_len=64,
                                  over_length="truncate")
    assert report.truncated_lines == [7]
    assert len(pairs[0].prompt_ids) + len(pairs[0].chosen_ids) == 64
    assert pairs[0].rejected_ids == encode_pair(tokenizer, record, 7).rejected_ids
    _, dropped = prepare_pairs(tokenizer, [(7, record)], max_seq_len=64, over_length="drop")
    assert dropped.dropped == [{"line": 7, "reason": "too_long",
                                "tokens": dropped.dropped[0]["tokens"]}]
    assert dropped.dropped[0]["tokens"] > 64


def test_a_pair_with_two_replies_on_a_side_is_refused_with_its_line() -> None:
    record = {"input": {"messages": [{"role": "user", "content": "Hi"}]},
              "preferred_output": [{"role": "assistant", "content": "a"},
                                   {"role": "assistant", "content": "b"}],
              "non_preferred_output": [{"role": "assistant", "content": "c"}]}
    with pytest.raises(DatasetError, match="line 9: 'preferred_output' must be exactly one"):
        canonical_pair(record, 9)
