"""Benchmark: `tuneport validate --json` vs a cookbook-style script vs bare tokenization.

Generates a deterministic chat dataset (mixed lengths, some unicode, a few shared system
prompts) and measures, each in its own process (so peak RSS is its own):

* ``tuneport``: ``tuneport validate FILE --json`` (all four targets, as a user runs it);
* ``tuneport_openai``: the same with ``--target openai`` only;
* ``cookbook``: what OpenAI's data-prep cookbook does - load every line into a list, loop
  over the format checks, count tokens with tiktoken per message value;
* ``floor``: bare tokenization of the same message texts, already in memory (only the
  ``encode_ordinary`` loop is timed).

Prints one JSON object: times, ratios and peak RSS per size. Usage::

    python bench/validate.py                       # 100k and 500k examples
    python bench/validate.py --sizes 20000 --compare-all
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_WORDS_TEXT = (
    "the a of to and in is it you that he was for on are with as I his they be at one "
    "have this from or had by word but what some we can out other were all there when up "
    "use your how said an each she which do their time if will way about many then them "
    "write would like so these her long make thing see him two has look more day could go "
    "come did number sound no most people my over know water than call first who may down "
    "side been now find any new work part take get place made live where after back little "
    "only round man year came show every good me give our under name very through just form "
    "sentence great think say help low line differ turn cause much mean before move right "
    "boy old too same tell does set three want air well also play small end put home read "
    "function return value error None True import def class print 42 3.14 2026"
)
WORDS = tuple(_WORDS_TEXT.split())
UNICODE = ["café", "naïve", "日本語", "テキスト", "中文", "Привет", "дела", "👍🏽", "✓", "Ünïcödé",
           "façade", "Ελληνικά", "العربية", "😀"]
SYSTEMS = [
    "You are a helpful assistant.",
    "You are a concise support agent for ACME Corp. Answer in one or two sentences.",
    "You are a senior Python developer. Explain code clearly and give short examples.",
    "Réponds en français, brièvement et poliment.",
    "You are a careful assistant. Think step by step, then give the final answer on its own "
    "line. Never invent facts; say when you do not know.",
]


def _text(rng: random.Random, lo: int, hi: int) -> str:
    n = int(rng.triangular(lo, hi, lo + (hi - lo) / 5))
    words = rng.choices(WORDS, k=n)
    if rng.random() < 0.2:
        for _ in range(1 + n // 40):
            words[rng.randrange(n)] = rng.choice(UNICODE)
    return " ".join(words).capitalize() + rng.choice(".?!")


def generate(path: Path, n: int, seed: int = 1234) -> None:
    """Write ``n`` deterministic chat examples to ``path``."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(n):
            msgs: list[dict[str, Any]] = []
            if rng.random() < 0.8:
                msgs.append({"role": "system", "content": rng.choice(SYSTEMS)})
            for _turn in range(rng.choice((1, 1, 1, 2, 3))):
                msgs.append({"role": "user", "content": _text(rng, 3, 60)})
                msgs.append({"role": "assistant", "content": _text(rng, 5, 150)})
            fh.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")


# -- the baseline and the floor, run in child processes ------------------------------------

def cookbook(path: str) -> dict[str, Any]:
    """Validate and count the way OpenAI's Chat_finetuning_data_prep notebook does."""
    from collections import defaultdict

    from tuneport.dataset._tiktoken_offline import get_encoding

    encoding = get_encoding("o200k_base")
    with open(path, encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]
    format_errors: dict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight")
                   for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1

    def num_tokens_from_messages(messages: list[dict[str, str]]) -> int:
        num_tokens = 0
        for message in messages:
            num_tokens += 3
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += 1
        return num_tokens + 3

    def num_assistant_tokens_from_messages(messages: list[dict[str, str]]) -> int:
        return sum(len(encoding.encode(m["content"])) for m in messages
                   if m["role"] == "assistant")

    n_missing_system = n_missing_user = 0
    n_messages, convo_lens, assistant_lens = [], [], []
    for ex in dataset:
        messages = ex["messages"]
        if not any(m["role"] == "system" for m in messages):
            n_missing_system += 1
        if not any(m["role"] == "user" for m in messages):
            n_missing_user += 1
        n_messages.append(len(messages))
        convo_lens.append(num_tokens_from_messages(messages))
        assistant_lens.append(num_assistant_tokens_from_messages(messages))
    n_too_long = sum(length > 16385 for length in convo_lens)
    n = len(dataset)
    epochs = 3
    if n * epochs < 100:
        epochs = min(25, 100 // n)
    elif n * epochs > 25000:
        epochs = max(1, 25000 // n)
    billed = epochs * sum(min(16385, length) for length in convo_lens)
    return {"examples": n, "errors": dict(format_errors), "total": sum(convo_lens),
            "too_long": n_too_long, "billed": billed}


def floor(path: str) -> dict[str, Any]:
    """Bare tokenization of every message value (role and content), texts already loaded."""
    from tuneport.dataset._tiktoken_offline import get_encoding

    enc = get_encoding("o200k_base")
    texts: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            for m in json.loads(line)["messages"]:
                texts.append(m["role"])
                texts.append(m["content"])
    encode = enc.encode_ordinary
    t0 = time.perf_counter()
    total = sum(len(encode(t)) for t in texts)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = sum(len(x) for x in enc.encode_ordinary_batch(texts, num_threads=2))
    batch_seconds = time.perf_counter() - t0
    assert batched == total
    return {"texts": len(texts), "tokens": total, "encode_seconds": seconds,
            "batch2_seconds": batch_seconds}


# -- the driver -------------------------------------------------------------------------------

def _measure(cmd: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    # ru_maxrss of this child alone (KiB on Linux): wait4 was done by communicate(), so read
    # the per-child figure the child prints itself when it can; else the children maximum.
    result: dict[str, Any] = {"seconds": round(wall, 3), "exit_code": proc.returncode}
    tail = err.decode(errors="replace").strip().splitlines()
    marker = [x for x in tail if x.startswith("BENCH_MAXRSS_KB=")]
    if marker:
        result["peak_rss_mb"] = round(int(marker[-1].split("=")[1]) / 1024, 1)
    result["stdout"] = out.decode(errors="replace")
    return result


_WRAP = (
    "import resource, sys, runpy\n"
    "try:\n"
    "    {body}\n"
    "finally:\n"
    "    print('BENCH_MAXRSS_KB=%d' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " file=sys.stderr)\n"
)


_CHILD = ("sys.path.insert(0, {here!r})\n    import validate as b\n    import json\n"
          "    print(json.dumps(b.{fn}(sys.argv[1])))")


def _python(body: str, *args: str) -> list[str]:
    return [sys.executable, "-c", _WRAP.format(body=body), *args]


def _tuneport_cmd(path: Path, *extra: str) -> list[str]:
    body = ("sys.argv = ['tuneport'] + sys.argv[1:]\n    from tuneport.cli import main\n"
            "    try:\n        main()\n    except SystemExit as e:\n"
            "        code = e.code")
    return _python(body, "validate", str(path), "--json", *extra)


def run_size(n: int, folder: Path, compare: bool) -> dict[str, Any]:
    path = folder / f"chat-{n}.jsonl"
    t0 = time.perf_counter()
    generate(path, n)
    row: dict[str, Any] = {"examples": n, "file_mb": round(path.stat().st_size / 2**20, 1),
                           "generate_seconds": round(time.perf_counter() - t0, 2)}
    tp = _measure(_tuneport_cmd(path))
    report = json.loads(tp.pop("stdout"))
    row["tuneport"] = {**tp, "ok": report["ok"],
                       "openai_tokens": report["tokens"]["openai"]["total"]}
    tpo = _measure(_tuneport_cmd(path, "--target", "openai"))
    tpo.pop("stdout")
    row["tuneport_openai"] = tpo
    if compare:
        cb = _measure(_python(_CHILD.format(here=str(Path(__file__).parent), fn="cookbook"),
                              str(path)))
        cb_out = json.loads(cb.pop("stdout"))
        row["cookbook"] = {**cb, "openai_tokens": cb_out["total"]}
        fl = _measure(_python(_CHILD.format(here=str(Path(__file__).parent), fn="floor"),
                              str(path)))
        fl_out = json.loads(fl.pop("stdout"))
        row["floor"] = {**fl, **{k: round(v, 3) if isinstance(v, float) else v
                                 for k, v in fl_out.items()}}
        t_all = row["tuneport"]["seconds"]
        t_oa = row["tuneport_openai"]["seconds"]
        row["ratios"] = {
            "cookbook_over_tuneport": round(row["cookbook"]["seconds"] / t_all, 2),
            "tuneport_over_floor_encode": round(t_all / fl_out["encode_seconds"], 2),
            "tuneport_openai_over_floor_encode": round(t_oa / fl_out["encode_seconds"], 2),
            "tuneport_over_floor_process": round(t_all / row["floor"]["seconds"], 2),
        }
        # Cookbook counts role values too, as tuneport does: the totals must agree.
        row["counts_agree"] = row["cookbook"]["openai_tokens"] == row["tuneport"]["openai_tokens"]
    path.unlink()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,500000")
    parser.add_argument("--compare-all", action="store_true",
                        help="run the cookbook baseline and the floor at every size "
                        "(default: the first size only)")
    parser.add_argument("--dir", default=None, help="where to write the generated files")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = [run_size(n, Path(tmp), compare=args.compare_all or i == 0)
                for i, n in enumerate(sizes)]
    result: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                              "runs": rows}
    rss = [r["tuneport"].get("peak_rss_mb") for r in rows]
    if len(rows) > 1 and all(rss):
        result["tuneport_peak_rss_growth"] = round(rss[-1] / rss[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
