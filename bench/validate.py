"""Benchmark: `tuneport validate --json` vs a cookbook-style script vs bare tokenization.

Generates a deterministic chat dataset (mixed lengths, some unicode, a few shared system
prompts) and measures, each in its own process (so peak RSS is its own):

* ``tuneport``: ``tuneport validate FILE --json`` (all four targets, as a user runs it);
* ``tuneport_openai``: the same with ``--target openai`` only;
* ``cookbook``: what OpenAI's data-prep cookbook does - load every line into a list, loop
  over the format checks, count tokens with tiktoken per message value;
* ``floor``: bare tokenization of the same message texts (role and content values), already
  in memory, one ``encode_ordinary`` call per text (only that loop is timed, not the start-up
  or the JSON loading that the other sides include).

tuneport may use helper processes for a large file (one per core): their peak RSS is
reported apart (``helpers_peak_rss_mb``, the largest helper) and added per helper into
``total_peak_rss_mb``. Each side records the load average when it started, since the
machine may be shared; ``--repeat`` runs the sides again in turn and reports medians.

Prints one JSON object: times, ratios and peak RSS per size. Usage::

    python bench/validate.py                       # 100k and 500k examples
    python bench/validate.py --sizes 20000 --compare-all --repeat 3
    python bench/validate.py --vocab wide          # few repeated words: the cache's worst case
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
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


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _word(rng: random.Random, vocab: str) -> str:
    if vocab == "random":  # nearly every word new: no cache can help
        return "".join(rng.choices(_LETTERS, k=rng.randint(2, 9)))
    return rng.choice(WORDS)


def _text(rng: random.Random, lo: int, hi: int, vocab: str = "small") -> str:
    n = int(rng.triangular(lo, hi, lo + (hi - lo) / 5))
    words = [_word(rng, vocab) for _ in range(n)]
    if rng.random() < 0.2:
        for _ in range(1 + n // 40):
            words[rng.randrange(n)] = rng.choice(UNICODE)
    return " ".join(words).capitalize() + rng.choice(".?!")


def generate(path: Path, n: int, seed: int = 1234, vocab: str = "small") -> None:
    """Write ``n`` deterministic chat examples to ``path``.

    Args:
        vocab: ``small`` (words from a list of ~200, as prose reuses a small vocabulary) or
            ``random`` (random letter strings: the worst case for tuneport's token cache).
    """
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(n):
            msgs: list[dict[str, Any]] = []
            if rng.random() < 0.8:
                msgs.append({"role": "system", "content": rng.choice(SYSTEMS)})
            for _turn in range(rng.choice((1, 1, 1, 2, 3))):
                msgs.append({"role": "user", "content": _text(rng, 3, 60, vocab)})
                msgs.append({"role": "assistant", "content": _text(rng, 5, 150, vocab)})
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
    t0, c0 = time.perf_counter(), time.process_time()
    total = sum(len(encode(t)) for t in texts)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"texts": len(texts), "tokens": total, "encode_seconds": seconds,
            "encode_cpu_seconds": cpu}


# -- the driver -------------------------------------------------------------------------------

def _measure(cmd: list[str]) -> dict[str, Any]:
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the side, its helper processes included: much less sensitive than the
    # wall time to other work on a shared machine (but blind to parallelism).
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result: dict[str, Any] = {"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
                              "exit_code": proc.returncode, "load_1min": round(load, 2)}
    # The child prints its own peak RSS and its helpers' (ru_maxrss, KiB on Linux).
    for line in err.decode(errors="replace").strip().splitlines():
        if line.startswith("BENCH_MAXRSS_KB="):
            own, children = (int(x) for x in line.split("=")[1].split(","))
            result["peak_rss_mb"] = round(own / 1024, 1)
            if children:
                result["helpers_peak_rss_mb"] = round(children / 1024, 1)
    result["stdout"] = out.decode(errors="replace")
    return result


_WRAP = (
    "import resource, sys, runpy\n"
    "try:\n"
    "    {body}\n"
    "finally:\n"
    "    print('BENCH_MAXRSS_KB=%d,%d' % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), file=sys.stderr)\n"
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


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median time, with every time listed (the noise is visible)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    mid = dict(ordered[(len(ordered) - 1) // 2])
    if len(runs) > 1:
        mid["all_seconds"] = [r["seconds"] for r in runs]
        mid["all_load_1min"] = [r["load_1min"] for r in runs]
    return mid


def _helpers(size: int) -> int:
    from tuneport.dataset._parallel import worker_count

    return worker_count(None, size) - 1


def run_size(n: int, folder: Path, compare: bool, repeat: int, vocab: str) -> dict[str, Any]:
    path = folder / f"chat-{n}.jsonl"
    t0 = time.perf_counter()
    generate(path, n, vocab=vocab)
    size = path.stat().st_size
    row: dict[str, Any] = {"examples": n, "vocab": vocab, "file_mb": round(size / 2**20, 1),
                           "generate_seconds": round(time.perf_counter() - t0, 2),
                           "tuneport_helpers": _helpers(size)}
    here = str(Path(__file__).parent)
    sides: dict[str, list[str]] = {
        "tuneport": _tuneport_cmd(path),
        "tuneport_openai": _tuneport_cmd(path, "--target", "openai"),
    }
    if compare:
        sides["cookbook"] = _python(_CHILD.format(here=here, fn="cookbook"), str(path))
        sides["floor"] = _python(_CHILD.format(here=here, fn="floor"), str(path))
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in sides}
    for _ in range(repeat):  # in turn, so a busy spell on the machine hits every side
        for name, cmd in sides.items():
            runs[name].append(_measure(cmd))
    for name in sides:
        for r in runs[name]:
            out = r.pop("stdout")
            if name.startswith("tuneport"):
                report = json.loads(out)
                r["ok"] = report["ok"]
                r["openai_tokens"] = report["tokens"]["openai"]["total"]
                r["total_peak_rss_mb"] = round(
                    r.get("peak_rss_mb", 0) + row["tuneport_helpers"]
                    * r.get("helpers_peak_rss_mb", 0), 1)
            elif name == "cookbook":
                r["openai_tokens"] = json.loads(out)["total"]
            else:
                r.update({k: round(v, 3) if isinstance(v, float) else v
                          for k, v in json.loads(out).items()})
        row[name] = _median_run(runs[name])
    if compare:
        t_all = row["tuneport"]["seconds"]
        t_oa = row["tuneport_openai"]["seconds"]
        floor_s = row["floor"]["encode_seconds"]
        row["ratios"] = {
            "cookbook_over_tuneport": round(row["cookbook"]["seconds"] / t_all, 2),
            "cookbook_over_tuneport_cpu": round(
                row["cookbook"]["cpu_seconds"] / row["tuneport"]["cpu_seconds"], 2),
            "cookbook_over_tuneport_openai": round(row["cookbook"]["seconds"] / t_oa, 2),
            "tuneport_over_floor_encode": round(t_all / floor_s, 2),
            "tuneport_openai_over_floor_encode": round(t_oa / floor_s, 2),
        }
        if repeat > 1:  # the same ratios run by run (each pair ran back to back)
            row["ratios"]["cookbook_over_tuneport_each"] = [
                round(c["seconds"] / t["seconds"], 2)
                for c, t in zip(runs["cookbook"], runs["tuneport"], strict=True)]
            row["ratios"]["tuneport_over_floor_encode_each"] = [
                round(t["seconds"] / f["encode_seconds"], 2)
                for t, f in zip(runs["tuneport"], runs["floor"], strict=True)]
        # The cookbook counts role values too, as tuneport does: the totals must agree.
        row["counts_agree"] = all(
            r["openai_tokens"] == row["cookbook"]["openai_tokens"]
            for name in ("tuneport", "tuneport_openai", "cookbook") for r in runs[name])
    path.unlink()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,500000")
    parser.add_argument("--compare-all", action="store_true",
                        help="run the cookbook baseline and the floor at every size "
                        "(default: the first size only)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every side this many times, in turn; report medians")
    parser.add_argument("--vocab", choices=("small", "random"), default="small",
                        help="words of the generated texts (random: the cache's worst case)")
    parser.add_argument("--dir", default=None, help="where to write the generated files")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = [run_size(n, Path(tmp), args.compare_all or i == 0, max(1, args.repeat),
                         args.vocab)
                for i, n in enumerate(sizes)]
    result: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                              "runs": rows}
    rss = [r["tuneport"].get("total_peak_rss_mb") for r in rows]
    if len(rows) > 1 and all(rss):
        result["tuneport_peak_rss_growth"] = round(rss[-1] / rss[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
