"""Training speed: tuneport's local trainer vs transformers Trainer + peft + padding collator.

Same model, data (chat examples with variable reply lengths), LoRA settings, learning
rate, batches (the baseline sees the examples in tuneport's step order through a
sequential sampler) and number of steps. Each side runs in its own process so peak
memory (max RSS) is measured separately. Prints one JSON object.

    python bench/train.py                       # SmolLM2-135M-Instruct (needs the demo extra)
    python bench/train.py --model PATH --examples 64 --eval-examples 16
    python bench/train.py --steps 4 --examples 16 --trace   # step losses/rates side by side

Metrics: trained tokens/s = loss-bearing (assistant) tokens per second of training steps;
eval loss = mean cross-entropy over the held-out examples' trained tokens after training.
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


def make_examples(n: int, seed: int) -> list[dict[str, Any]]:
    """Chat examples whose reply length is log-uniform between 10 and 400 words-ish."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) + "?"
        length = int(math.exp(rng.uniform(math.log(8), math.log(300))))
        reply = " ".join(rng.choice(WORDS) for _ in range(length)) + "."
        rows.append({"messages": [{"role": "system", "content": SYSTEM},
                                  {"role": "user", "content": question},
                                  {"role": "assistant", "content": reply}]})
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """transformers Trainer + peft LoRA + DataCollatorForSeq2Seq (pads to the batch max)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    from tuneport.local.config import TrainConfig
    from tuneport.local.data import prepare_examples, read_jsonl
    from tuneport.local.models import (
        default_target_modules,
        load_model,
        load_tokenizer,
        resolve_model_path,
    )
    from tuneport.local.trainer import build_schedule
    from tuneport.testing import held_out_loss

    torch.set_num_threads(args.threads)
    path = resolve_model_path(args.model)
    tok = load_tokenizer(path)
    train, _ = prepare_examples(tok, read_jsonl(args.train), max_seq_len=2048,
                                over_length="truncate")
    val, _ = prepare_examples(tok, read_jsonl(args.val), max_seq_len=2048,
                              over_length="truncate")
    cfg = TrainConfig(job_id="bench", model=args.model, train_file=args.train, epochs=1,
                      batch_size=args.batch_size, max_steps=args.steps, seed=args.seed)
    order = [i for step in build_schedule(len(train), cfg) for i in step]
    rows = [{"input_ids": train[i].input_ids,
             "labels": [t if on else -100 for t, on in zip(train[i].input_ids,
                                                           train[i].trained, strict=True)]}
            for i in order]
    # Seeded where tuneport's trainer seeds (before loading): the same LoRA initialization.
    torch.manual_seed(args.seed)
    model = load_model(path, attn_implementation="sdpa")
    model = get_peft_model(model, LoraConfig(
        r=16, lora_alpha=32, target_modules=default_target_modules(model.config.model_type),
        task_type="CAUSAL_LM"))
    times: list[float] = []
    trace: list[dict[str, float]] = []

    class Timer(TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            # The rate this step's optimizer update uses (the scheduler steps after it).
            self.lr = float(k["optimizer"].param_groups[0]["lr"])
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            times.append(time.perf_counter() - self.t)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **k: Any) -> None:
            if logs and "loss" in logs:
                trace.append({"step": state.global_step, "loss": float(logs["loss"]),
                              "learning_rate": self.lr})

    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out, per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
            max_steps=len(rows) // args.batch_size, lr_scheduler_type="linear",
            # Below 1 it is a ratio, as tuneport's warmup_ratio: ceil(0.05 x steps) steps.
            warmup_steps=0.05, weight_decay=0.0,
            max_grad_norm=1.0, logging_steps=1, save_strategy="no", report_to="none",
            use_cpu=True, train_sampling_strategy="sequential", seed=args.seed,
            remove_unused_columns=False, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=targs, train_dataset=rows,
                          data_collator=DataCollatorForSeq2Seq(tok, padding=True),
                          callbacks=[Timer()])
        trainer.train()
    trained = sum(train[i].n_trained for i in order)
    padded = 0
    for start in range(0, len(order), args.batch_size):
        batch = order[start:start + args.batch_size]
        padded += len(batch) * max(len(train[i].input_ids) for i in batch)
    real = sum(len(train[i].input_ids) for i in order)
    return {"trained_tokens": trained, "train_seconds": sum(times),
            "trained_tokens_per_second": trained / sum(times),
            "padding_fraction": 1 - real / padded, "peak_rss_mb": peak_rss_mb(),
            "eval_loss": held_out_loss(model, val), "trace": trace}


def run_tuneport(args: argparse.Namespace) -> dict[str, Any]:
    """tuneport's trainer through LocalProvider, exactly as users run it."""
    os.environ["TUNEPORT_HOME"] = args.home
    os.environ["TUNEPORT_LOCAL_THREADS"] = str(args.threads)
    from tuneport._models import FineTuneSpec, RenderedDataset
    from tuneport.providers.local import LocalProvider

    provider = LocalProvider()

    def up(path: str, name: str) -> Any:
        p = Path(path)
        # Uploads are content-addressed by fingerprint: a fixed name would reuse the file
        # of an earlier run with other --examples and train on different data.
        digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        return provider.upload(RenderedDataset(provider="local", path=p,
                                               fingerprint=f"{name}-{digest}",
                                               n_examples=1, n_bytes=p.stat().st_size,
                                               format="chat"))

    spec = FineTuneSpec(model=args.model, epochs=1, learning_rate=args.lr,
                        batch_size=args.batch_size, lora_rank=16, lora_alpha=32,
                        seed=args.seed, provider_options={
                            "max_steps": args.steps, "max_seq_len": 2048,
                            "eval_every": 10**6, "save_every": 10**6, "lr_scheduler": "linear",
                            "warmup_ratio": 0.05})
    job = provider.create_job(up(args.train, "bench-train"), spec, f"bench-{time.time()}",
                              validation_file=up(args.val, "bench-val"))
    while not (job := provider.get_job(job.id)).is_terminal:
        time.sleep(1)
    if job.status.value != "succeeded":
        raise SystemExit(f"tuneport run failed: {job.error}")
    throughput = job.raw["throughput"]
    points = provider.metrics(job.id)
    evals = [p.eval_loss for p in points if p.eval_loss is not None]
    return {"trained_tokens": throughput["trained_tokens"],
            "train_seconds": throughput["seconds"],
            "trained_tokens_per_second": throughput["trained_tokens_per_second"],
            # The trainer runs detached (not our child): it reports its own peak RSS.
            "padding_fraction": 0.0,
            "peak_rss_mb": max(peak_rss_mb(), float(throughput["peak_rss_mb"])),
            "eval_loss": evals[-1],
            "trace": [{"step": p.step, "loss": p.train_loss, "learning_rate": p.learning_rate}
                      for p in points]}


def side(args: argparse.Namespace, which: str) -> dict[str, Any]:
    """Run one side in a fresh process and add its peak memory (max RSS of the tree)."""
    cmd = [sys.executable, __file__, "--side", which, "--model", args.model,
           "--train", args.train, "--val", args.val, "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--lr", str(args.lr),
           "--threads", str(args.threads), "--seed", str(args.seed), "--home", args.home]
    load_before = os.getloadavg()[0]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"the {which} side failed (exit {proc.returncode}); its output is above")
    out = proc.stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    # Other processes on the machine change the timings: keep the 1-minute load with them.
    result["load_average_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def print_trace(traces: dict[str, list[dict[str, float]]]) -> None:
    """Both sides' step losses and learning rates side by side (stderr; stdout stays JSON)."""
    sys.stderr.write(f"{'step':>4} {'tuneport loss':>14} {'baseline loss':>14} {'rel diff':>9} "
                     f"{'tuneport lr':>12} {'baseline lr':>12}\n")
    for ours, theirs in zip(traces["tuneport"], traces["baseline"], strict=False):
        diff = abs(ours["loss"] - theirs["loss"]) / max(abs(theirs["loss"]), 1e-12)
        sys.stderr.write(f"{ours['step']:>4} {ours['loss']:>14.6f} {theirs['loss']:>14.6f} "
                         f"{diff:>9.2e} {ours['learning_rate']:>12.4e} "
                         f"{theirs['learning_rate']:>12.4e}\n")


def peak_rss_mb() -> float:
    """Largest RSS of this process and its reaped children."""
    kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return round(kib / 1024, 1)


def main() -> None:
    """Prepare the data, run both sides, print the comparison as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--examples", type=int, default=128)
    parser.add_argument("--eval-examples", type=int, default=32)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trace", action="store_true",
                        help="also print both sides' loss and learning rate at every step")
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
    with tempfile.TemporaryDirectory(prefix="tuneport-bench-") as tmp:
        args.home = args.home or str(Path(tmp) / "home")
        args.train, args.val = str(Path(tmp) / "train.jsonl"), str(Path(tmp) / "val.jsonl")
        write_jsonl(make_examples(args.examples, args.seed), Path(args.train))
        write_jsonl(make_examples(args.eval_examples, args.seed + 1), Path(args.val))
        # Convert a GGUF model once, outside the timed runs.
        os.environ["TUNEPORT_HOME"] = args.home
        from tuneport.local.models import resolve_model_path

        resolve_model_path(args.model)
        tuneport_side = side(args, "tuneport")
        baseline_side = side(args, "baseline")
    traces = {"tuneport": tuneport_side.pop("trace"), "baseline": baseline_side.pop("trace")}
    if args.trace:
        print_trace(traces)
    print(json.dumps({
        "model": args.model, "steps": args.steps, "batch_size": args.batch_size,
        "examples": args.examples, "threads": args.threads,
        "tuneport": tuneport_side, "baseline": baseline_side,
        "speedup_trained_tokens_per_second": round(
            tuneport_side["trained_tokens_per_second"]
            / baseline_side["trained_tokens_per_second"], 2),
        "peak_memory_ratio": round(tuneport_side["peak_rss_mb"] / baseline_side["peak_rss_mb"], 2),
        "eval_loss_relative_difference": round(
            abs(tuneport_side["eval_loss"] - baseline_side["eval_loss"])
            / baseline_side["eval_loss"], 4),
    }, indent=2))


if __name__ == "__main__":
    main()
