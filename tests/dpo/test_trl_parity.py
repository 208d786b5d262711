"""Parity with TRL's DPOTrainer: same tiny model, pairs and LoRA initialisation give the same
tokens, the same first-step loss and the same LoRA gradients (float tolerance).

TRL pads ``[chosen; rejected]`` rows and runs the prompt twice; tuneport packs each pair with
the prompt once. If the masks, positions, reference or loss differed, these would not agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("datasets")

from tuneport.local.dpo import (  # noqa: E402
    dpo_terms,
    pack_pairs,
    pair_logps,
    prepare_pairs,
    reference_off,
)
from tuneport.local.models import default_target_modules, load_model, load_tokenizer  # noqa: E402
from tuneport.local.packing import register_packed_attention  # noqa: E402
from tuneport.testing import tiny_preference_examples  # noqa: E402

BETA = 0.2


def _lora_config(model: Any) -> Any:
    from peft import LoraConfig

    # Random A and B (not B = 0): the policy differs from the reference at step 1, so the
    # loss is not just log 2 and every LoRA matrix gets a gradient.
    return LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False,
                      target_modules=default_target_modules(model.config.model_type),
                      task_type="CAUSAL_LM")


def _lora(model: Any) -> Any:
    from peft import get_peft_model

    torch.manual_seed(1234)
    return get_peft_model(model, _lora_config(model))


def _records() -> list[dict[str, Any]]:
    return tiny_preference_examples(8, seed=5)


def _trl_first_step(model_path: Path, tmp_path: Path) -> tuple[float, dict[str, Any], Any]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    tokenizer = load_tokenizer(str(model_path))
    base = AutoModelForCausalLM.from_pretrained(str(model_path))
    rows = [{"prompt": r["input"]["messages"], "chosen": r["preferred_output"],
             "rejected": r["non_preferred_output"]} for r in _records()]
    args = DPOConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=len(rows),
                     beta=BETA, report_to="none", use_cpu=True, max_length=None,
                     dataloader_num_workers=0, seed=0)
    # A new adapter from peft_config (TRL's reference is then the base, adapter off, as
    # tuneport's), given the same initial LoRA weights as tuneport's side.
    trainer = DPOTrainer(model=base, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=_lora_config(base))
    seeded = _lora(AutoModelForCausalLM.from_pretrained(str(model_path)))
    start = {n: p for n, p in seeded.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for name, param in trainer.model.named_parameters():
            if param.requires_grad:
                param.copy_(start[name])
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters()
             if p.requires_grad}
    return float(loss.detach()), grads, trainer.train_dataset


# TRL and transformers warn about their own deprecations; they are not ours to fix here.
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_first_step_loss_and_gradients_equal_trl(tiny_model_path: Path, tmp_path: Path) -> None:
    trl_loss, trl_grads, trl_data = _trl_first_step(tiny_model_path, tmp_path)

    tokenizer = load_tokenizer(str(tiny_model_path))
    model = _lora(load_model(str(tiny_model_path),
                             attn_implementation=register_packed_attention()))
    model.train()
    pairs, _ = prepare_pairs(tokenizer, [(i + 1, r) for i, r in enumerate(_records())],
                             max_seq_len=512, over_length="truncate")
    # Same tokens as TRL's own preprocessing, pair by pair.
    for pair, row in zip(pairs, trl_data, strict=True):
        assert (pair.prompt_ids, pair.chosen_ids, pair.rejected_ids) == (
            row["prompt_ids"], row["chosen_ids"], row["rejected_ids"])
    batch = pack_pairs(pairs, list(range(len(pairs))))
    policy = pair_logps(model, batch)
    with torch.no_grad(), reference_off(model):
        reference = pair_logps(model, batch)
    losses, _, _ = dpo_terms(policy, reference, BETA)
    loss = losses.mean()
    loss.backward()

    assert float(loss.detach()) == pytest.approx(trl_loss, rel=1e-5, abs=1e-6)
    assert abs(trl_loss - 0.693147) > 1e-3  # a real first step, not the trivial log 2
    ours = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert ours.keys() == trl_grads.keys()
    assert len(ours) > 0
    for name, grad in ours.items():
        assert grad is not None, name
        want = trl_grads[name]
        assert float(want.abs().max()) > 0, name
        torch.testing.assert_close(grad, want, rtol=1e-4, atol=1e-6, msg=name)
