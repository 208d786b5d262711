"""Helpers for testing code that uses tuneport, fully offline.

:func:`tiny_model` writes a tiny Llama causal LM with a byte-level BPE tokenizer and a
ChatML chat template to a folder in a few seconds, without any download. Use it as the
``model=`` of a local fine-tuning job in tests::

    from tuneport.testing import tiny_model

    path = tiny_model(tmp_path / "tiny")
    job = client.fine_tune(ds, model=str(path), provider="local")

Needs the ``local`` extra (torch, transformers, tokenizers).

:class:`ProviderConformance` is the provider contract as tests: subclass it in a plugin's test
suite to prove a third-party provider behaves as tuneport's Client expects (see
docs/providers.md, "Writing a provider").
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneport.providers.conformance import ProviderConformance

__all__ = [
    "CHATML_TEMPLATE",
    "ProviderConformance",
    "held_out_loss",
    "tiny_chat_examples",
    "tiny_model",
    "tiny_preference_examples",
]

# ChatML, as SmolLM2 and Qwen use it; ``add_generation_prompt`` opens an assistant turn.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]
_ANIMALS = ["cow", "fox", "dog", "cat", "eel", "owl", "bee", "ant", "yak", "emu"]
_COLORS = ["red", "blue", "green", "black", "white", "brown", "gray", "pink"]


def tiny_chat_examples(n: int = 200, *, seed: int = 0) -> list[dict[str, Any]]:
    """Deterministic synthetic chat examples (system/user/assistant) for tiny-model tests.

    Args:
        n: how many examples.
        seed: the random seed; the same seed gives the same examples.

    Returns:
        A list of ``{"messages": [...]}`` dicts in OpenAI chat format.
    """
    rng = random.Random(seed)
    examples: list[dict[str, Any]] = []
    for i in range(n):
        animal = rng.choice(_ANIMALS)
        kind = i % 3
        if kind == 0:
            color = _COLORS[_ANIMALS.index(animal) % len(_COLORS)]
            user, reply = f"What color is the {animal}?", f"The {animal} is {color}."
        elif kind == 1:
            a, b = rng.randint(0, 9), rng.randint(0, 9)
            user, reply = f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}."
        else:
            user, reply = f"Say hello to the {animal}.", f"Hello, {animal}!"
        examples.append(
            {
                "messages": [
                    {"role": "system", "content": "You are a terse assistant."},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": reply},
                ]
            }
        )
    return examples


def tiny_preference_examples(n: int = 64, *, seed: int = 0) -> list[dict[str, Any]]:
    """Deterministic preference pairs (OpenAI's DPO shape) that a tiny model can separate.

    The preferred reply always answers correctly and politely, the rejected one gives a
    wrong color or sum and a curt tone, so preference accuracy rises within a few steps.

    Args:
        n: how many pairs.
        seed: the random seed; the same seed gives the same pairs.

    Returns:
        A list of ``{"input": {"messages": [...]}, "preferred_output": [...],
        "non_preferred_output": [...]}`` dicts.
    """
    rng = random.Random(seed)
    pairs: list[dict[str, Any]] = []
    for i in range(n):
        animal = rng.choice(_ANIMALS)
        if i % 2 == 0:
            color = _COLORS[_ANIMALS.index(animal) % len(_COLORS)]
            wrong = _COLORS[(_ANIMALS.index(animal) + 3) % len(_COLORS)]
            user = f"What color is the {animal}?"
            good, bad = f"The {animal} is {color}.", f"No. {wrong}"
        else:
            a, b = rng.randint(0, 9), rng.randint(0, 9)
            user = f"What is {a} plus {b}?"
            good, bad = f"{a} plus {b} is {a + b}.", f"No. {a + b + 1}"
        pairs.append({
            "input": {"messages": [{"role": "system", "content": "You are a terse assistant."},
                                   {"role": "user", "content": user}]},
            "preferred_output": [{"role": "assistant", "content": good}],
            "non_preferred_output": [{"role": "assistant", "content": bad}],
        })
    return pairs


def tiny_model(
    path: str | Path,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    seed: int = 0,
) -> Path:
    """Build a tiny Llama causal LM + BPE tokenizer with a ChatML template, offline.

    The model has about 100k parameters and ``initializer_range=0.2`` (with the default
    0.02 the logits stay nearly uniform and the loss barely moves in short tests).

    Args:
        path: the folder to write (created; existing files are overwritten).
        hidden_size: width of the model.
        num_layers: number of decoder layers.
        seed: seed for the weights; the same seed gives the same model.

    Returns:
        The folder, loadable with ``AutoModelForCausalLM.from_pretrained``.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)

    corpus = []
    for example in tiny_chat_examples(400, seed=seed):
        for message in example["messages"]:
            corpus.append(message["content"])
    corpus += [f"{n}" for n in range(20)] + ["system user assistant"]

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=_SPECIAL_TOKENS,
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=bpe,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    (out / "tuneport_tiny.json").write_text(json.dumps({"seed": seed}) + "\n")
    return out


def held_out_loss(model: Any, examples: list[Any]) -> float:
    """Exact held-out loss as a reference: one example at a time, trained tokens only.

    ``examples`` are tokenized examples with ``input_ids`` and a per-token ``trained`` mask
    (as the local trainer's data module produces them). Independent of the trainer's own
    packed evaluation, so tests and benchmarks can check it against this.
    """
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for ex in examples:
            logits = model(input_ids=torch.tensor([ex.input_ids])).logits[0, :-1].float()
            mask = torch.tensor(ex.trained[1:])
            labels = torch.tensor(ex.input_ids[1:])
            total += float(torch.nn.functional.cross_entropy(logits[mask], labels[mask],
                                                             reduction="sum"))
            count += int(mask.sum())
    return total / count


def __getattr__(name: str) -> Any:
    # Resolved on first use, so importing tuneport.testing stays as light as it was.
    if name == "ProviderConformance":
        from tuneport.providers.conformance import ProviderConformance

        return ProviderConformance
    raise AttributeError(f"module 'tuneport.testing' has no attribute {name!r}")
