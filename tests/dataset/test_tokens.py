"""Token counts: tiktoken offline, the cookbook formula, auto epochs, HF tokenizers, ranges."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneport.dataset import Dataset, count_tokens
from tuneport.dataset._tiktoken_offline import EMBEDDED_ENCODINGS, get_encoding

from .conftest import chat


@pytest.mark.parametrize(("encoding", "text", "ids"), [
    # Reference ids from the tiktoken docs / local-training.md §7.
    ("o200k_base", "hi <|endoftext|> there", None),
    ("cl100k_base", "Hello world", [9906, 1917]),
    ("o200k_base", "Hello world", [13225, 2375]),
])
def test_encodings_load_offline_and_match_known_ids(encoding: str, text: str,
                                                     ids: list[int] | None) -> None:
    enc = get_encoding(encoding)
    if ids is not None:
        assert enc.encode_ordinary(text) == ids
    else:
        assert enc.encode(text, allowed_special="all") == [3686, 220, 199999, 1354]


def test_seeding_works_in_a_fresh_process_without_network(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    env["TUNEPORT_CACHE_DIR"] = str(tmp_path)
    code = ("from tuneport.dataset._tiktoken_offline import get_encoding;"
            "print(len(get_encoding('o200k_base').encode_ordinary('Hello world')))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip() == "2"
    (seeded,) = [p for p in (tmp_path / "tiktoken").iterdir() if not p.name.startswith(".")]
    assert hashlib.sha256(seeded.read_bytes()).hexdigest() == EMBEDDED_ENCODINGS["o200k_base"]


def test_later_processes_load_the_encoding_from_its_kept_blob(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    env["TUNEPORT_CACHE_DIR"] = str(tmp_path)
    text = "Hello world, ¿qué tal? 日本語 👍🏽 <|endoftext|>"
    code = ("import sys; from tuneport.dataset import _tiktoken_offline as t;"
            "e = t.get_encoding('o200k_base');"
            "print(e.encode_ordinary(sys.argv[1]), e.n_vocab, sorted(e.special_tokens_set))")

    def run() -> str:
        return subprocess.run([sys.executable, "-c", code, text], env=env, capture_output=True,
                              text=True, check=True, timeout=60).stdout

    first = run()  # parses the checked file, keeps the blob
    (blob,) = (tmp_path / "tiktoken-fast").iterdir()
    assert run() == first  # from the blob
    blob.write_bytes(blob.read_bytes()[:1000])  # damaged: ignored, the file is parsed again
    assert run() == first
    enc = get_encoding("o200k_base")
    assert first.startswith(str(enc.encode_ordinary(text)))


def _cookbook(messages: list[dict[str, str]]) -> int:
    """OpenAI's cookbook counter, written out with tiktoken directly."""
    enc = get_encoding("o200k_base")
    n = 0
    for m in messages:
        n += 3
        for key, value in m.items():
            n += len(enc.encode(value))
            if key == "name":
                n += 1
    return n + 3


def test_openai_counts_follow_the_cookbook() -> None:
    examples = [
        chat("Hello there", "Hi! How can I help?", system="You are terse."),
        {"messages": [{"role": "user", "content": "Ünïcödé ✓ 日本語のテキスト", "name": "bob"},
                      {"role": "assistant", "content": "はい 👍🏽"}]},
        chat("x" * 5000, "long " * 300),
    ]
    stats = count_tokens(Dataset.from_records(examples), "openai")
    want = [_cookbook(e["messages"]) for e in examples]
    assert stats.exact
    assert stats.tokenizer == "tiktoken:o200k_base"
    assert list(stats.per_example or []) == want
    assert stats.total == sum(want)
    assert stats.max == max(want)
    assert stats.mean == pytest.approx(sum(want) / 3)


def test_cl100k_for_older_models_and_repeated_strings_are_cached() -> None:
    from tuneport.dataset._tokens import counter_for

    counter = counter_for("tiktoken:cl100k_base")
    assert counter.exact
    assert counter.label == "tiktoken:cl100k_base"
    same = [chat("What is 2+2?", "4", system="Be brief.")] * 5000
    stats = count_tokens(Dataset.from_records(same), "openai")
    assert set(stats.per_example or []) == {_cookbook(same[0]["messages"])}


@pytest.mark.parametrize(("n", "epochs"), [(5, 20), (10, 10), (100, 3), (10_000, 2),
                                           (30_000, 1)])
def test_openai_auto_epochs_rule(n: int, epochs: int) -> None:
    from tuneport.dataset import rules_for

    assert rules_for("openai").epochs_for(n) == epochs


def test_billed_estimate_uses_auto_epochs_and_the_limit() -> None:
    ds = Dataset.from_records([chat()] * 5 + [chat("word " * 70_000)])
    stats = Dataset.validate(ds, ("openai",)).tokens["openai"]
    small = _cookbook(chat()["messages"])
    assert stats.billed_estimate.epochs == 16  # 6 examples: min(25, 100 // 6)
    assert stats.billed_estimate.tokens == 16 * (5 * small + 65_536)
    assert stats.over_limit == 1


def test_approx_range_brackets_a_real_tokenizer() -> None:
    texts = ["The quick brown fox jumps over the lazy dog. " * 20,
             "def f(x):\n    return {k: v for k, v in x.items() if v}\n" * 10,
             "日本語のテキストと中文文本。" * 30, "Привет, как дела? " * 30]
    for text in texts:
        ds = Dataset.from_records([chat(text, "ok")])
        approx = count_tokens(ds, "together")
        exact = count_tokens(ds, "openai")
        assert not approx.exact
        assert approx.tokenizer == "approx"
        assert approx.total_low <= exact.total <= approx.total_high, text[:20]
        assert approx.per_example_low is not None
        assert approx.per_example_high is not None


def test_local_model_folder_uses_its_own_tokenizer(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "hi": 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    folder = tmp_path / "model"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]"}))
    ds = Dataset.from_records([chat("hello world hello", "hi")])
    stats = count_tokens(ds, "local", model=str(folder))
    assert stats.exact
    assert stats.tokenizer == f"hf:{folder}"
    # 3 + 1 content tokens, template overhead per message and per example.
    from tuneport.dataset._tokens import counter_for

    counter = counter_for(f"path:{folder}")
    assert stats.total == 4 + 2 * counter.per_message + counter.per_example


def test_unknown_local_model_falls_back_to_the_estimate() -> None:
    ds = Dataset.from_records([chat()])
    stats = count_tokens(ds, "local", model="someorg/not-in-any-cache-xyz")
    assert not stats.exact
    assert stats.tokenizer == "approx"
