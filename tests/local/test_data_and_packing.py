"""Label masking (assistant-only, weights) and packing without cross-example attention."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tuneport._exceptions import ConfigError, UnsupportedFeatureError
from tuneport._models import FineTuneSpec
from tuneport.local.config import config_from_spec
from tuneport.local.data import encode_record, prepare_examples
from tuneport.local.models import load_model, load_tokenizer
from tuneport.local.packing import pack, packed_loss, register_packed_attention


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path: Path) -> object:
    return load_tokenizer(str(tiny_model_path))


def trained_text(tokenizer: object, record: dict[str, object]) -> str:
    example = encode_record(tokenizer, record, 1)
    ids = [t for t, on in zip(example.input_ids, example.trained, strict=True) if on]
    return tokenizer.decode(ids)  # type: ignore[attr-defined, no-any-return]


def test_only_assistant_tokens_are_trained(tokenizer: object) -> None:
    record = {"messages": [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Say hello to the cow."},
        {"role": "assistant", "content": "Hello, cow!"},
    ]}
    assert trained_text(tokenizer, record) == "Hello, cow!<|im_end|>\n"


def test_weight_zero_assistant_messages_are_not_trained(tokenizer: object) -> None:
    record = {"messages": [
        {"role": "user", "content": "What is 1 plus 2?"},
        {"role": "assistant", "content": "1 plus 2 is 3.", "weight": 0},
        {"role": "user", "content": "What is 2 plus 2?"},
        {"role": "assistant", "content": "2 plus 2 is 4.", "weight": 1},
    ]}
    assert trained_text(tokenizer, record) == "2 plus 2 is 4.<|im_end|>\n"
    record["messages"][1]["weight"] = 1  # type: ignore[index]
    assert trained_text(tokenizer, record) == "1 plus 2 is 3.<|im_end|>\n2 plus 2 is 4.<|im_end|>\n"


def test_prompt_completion_and_text_formats(tokenizer: object) -> None:
    # " 3" straddles the prompt's trailing space and the completion: it is trained.
    assert trained_text(tokenizer, {"prompt": "What is 1 plus 2? ", "completion": "3."}) == \
        " 3.<|im_end|>"
    assert trained_text(tokenizer, {"prompt": "What is 1 plus 2?", "completion": " 3."}) == \
        " 3.<|im_end|>"
    text = trained_text(tokenizer, {"text": "The cow is red."})
    assert text.endswith("cow is red.<|im_end|>")  # the first token is never a target


def test_over_long_examples_are_truncated_or_dropped_and_reported(tokenizer: object) -> None:
    long = {"messages": [{"role": "user", "content": "Say hello to the cow. " * 20},
                         {"role": "assistant", "content": "Hello, cow!"}]}
    short = {"messages": [{"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hello, cow!"}]}
    records = [(1, short), (2, long)]
    kept, report = prepare_examples(tokenizer, records, max_seq_len=40, over_length="drop")
    assert len(kept) == 1
    assert report.dropped == [
        {"line": 2, "reason": "too_long", "tokens": report.dropped[0]["tokens"]}]
    kept, report = prepare_examples(tokenizer, records, max_seq_len=40, over_length="truncate")
    # Truncation cut off the whole reply: nothing left to train, so it is dropped, reported.
    assert report.truncated_lines == [2]
    assert [d["reason"] for d in report.dropped] == ["no_trained_tokens"]
    assert all(len(e.input_ids) <= 40 for e in kept)


def test_packed_rows_never_let_examples_see_each_other(tiny_model_path: Path,
                                                       tokenizer: object) -> None:
    torch.manual_seed(0)
    packed_model = load_model(str(tiny_model_path),
                              attn_implementation=register_packed_attention())
    plain_model = load_model(str(tiny_model_path), attn_implementation="sdpa")
    records = [{"messages": [{"role": "user", "content": f"What is {a} plus {b}?"},
                             {"role": "assistant", "content": f"{a} plus {b} is {a + b}."}]}
               for a, b in [(1, 2), (3, 4), (5, 6)]]
    examples = [encode_record(tokenizer, r, i) for i, r in enumerate(records)]
    batch = pack(examples, [0, 1, 2])

    decoder = packed_model.get_decoder()
    with torch.no_grad():
        hidden = decoder(input_ids=batch.input_ids, position_ids=batch.position_ids,
                         use_cache=False, tuneport_seq_lens=batch.seq_lens).last_hidden_state
        packed_logits = packed_model.get_output_embeddings()(hidden)[0]
        start = 0
        for example in examples:
            alone = plain_model(input_ids=torch.tensor([example.input_ids])).logits[0]
            end = start + len(example.input_ids)
            torch.testing.assert_close(packed_logits[start:end], alone, atol=1e-5, rtol=1e-5)
            start = end

        # Changing the first example must not change anything the others compute.
        changed = examples[0].input_ids[:]
        changed[1:4] = [5, 6, 7]
        batch2 = pack([type(examples[0])(changed, examples[0].trained, 0), *examples[1:]],
                      [0, 1, 2])
        hidden2 = decoder(input_ids=batch2.input_ids, position_ids=batch2.position_ids,
                          use_cache=False, tuneport_seq_lens=batch2.seq_lens).last_hidden_state
        first = len(examples[0].input_ids)
        torch.testing.assert_close(hidden2[0, first:], hidden[0, first:])
        assert not torch.allclose(hidden2[0, :first], hidden[0, :first])

    # The packed loss equals the sum of the per-example losses over trained tokens only.
    total = packed_loss(packed_model, batch)
    expected = torch.zeros(())
    for example in examples:
        logits = plain_model(input_ids=torch.tensor([example.input_ids])).logits[0, :-1]
        labels = torch.tensor(example.input_ids[1:])
        mask = torch.tensor(example.trained[1:])
        expected = expected + torch.nn.functional.cross_entropy(
            logits[mask], labels[mask], reduction="sum")
    torch.testing.assert_close(total, expected, atol=1e-4, rtol=1e-5)


def test_unsupported_methods_and_options_fail_clearly() -> None:
    # LoRA shards nothing: FSDP is for full fine-tuning, and is refused with the reason.
    with pytest.raises(UnsupportedFeatureError, match="fsdp"):
        config_from_spec(FineTuneSpec(model="m", provider_options={"distributed": "fsdp"}),
                         job_id="j", train_file="t", validation_file=None,
                         idempotency_key=None)
    with pytest.raises(ConfigError, match="Unknown local training option"):
        config_from_spec(FineTuneSpec(model="m", provider_options={"lora_rnk": 4}),
                         job_id="j", train_file="t", validation_file=None, idempotency_key=None)
