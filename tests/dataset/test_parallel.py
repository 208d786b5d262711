"""The multi-process scan of a JSONL file gives exactly the report of the serial scan."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tuneport.dataset import _parallel, _validate
from tuneport.dataset._readers import JsonlSource

from .conftest import chat

CORPUS = Path(__file__).parent / "corpus"
TARGETS = ("openai", "together", "fireworks", "local")


def _chat_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "café", "日本語", "naïve", "42", "3.14",
             "Привет", "👍🏽", "the", "of", "and"]
    out = []
    for _ in range(n):
        text = " ".join(rng.choices(words, k=rng.randrange(1, 40)))
        out.append(json.dumps(chat(text, text[::-1] + "\nok", system="Be brief."),
                              ensure_ascii=False))
    return out


@pytest.fixture(scope="module")
def busy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Valid chat lines with every corpus file's bad lines spread through them, repeated
    so that most codes exceed the kept limit, a tail in another format, no final newline."""
    bad: list[str] = []
    for f in sorted(CORPUS.glob("*.jsonl")):
        bad.extend(f.read_bytes().decode("utf-8", "surrogateescape").splitlines())
    rng = random.Random(7)
    lines = _chat_lines(3000, seed=1)
    for k in range(4):
        for b in bad:
            lines.insert(rng.randrange(1, len(lines)), b)
        del k
    lines.append(json.dumps({"prompt": "p", "completion": "c"}))
    path = tmp_path_factory.mktemp("parallel") / "busy.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
    return path


def _report(path: Path, workers: int, **kw: Any) -> dict[str, Any]:
    report = _validate.run(JsonlSource(path), TARGETS, workers=workers, **kw)
    out = report.to_dict()
    out["_per_example"] = {t: (list(s.per_example or []), list(s.per_example_low or []),
                               list(s.per_example_high or []))
                           for t, s in report.tokens.items()}
    return out


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut even a small file into many ranges."""
    monkeypatch.setattr(_parallel, "MIN_RANGE_BYTES", 1)


def test_parallel_report_equals_serial(busy_file: Path, small_ranges: None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[int] = []
    real_run = _parallel._Helper.run

    def counting_run(self: _parallel._Helper, task: _parallel.RangeTask) -> Any:
        served.append(task.start)
        return real_run(self, task)

    monkeypatch.setattr(_parallel._Helper, "run", counting_run)
    serial = _report(busy_file, workers=1, max_issues_per_code=5)
    parallel = _report(busy_file, workers=3, max_issues_per_code=5)
    assert served, "no range went to a helper process"
    assert parallel == serial
    assert serial["format"] == "mixed"
    assert sum(serial["issue_counts"].values()) > len(serial["issues"])  # limits bit


def test_parallel_keeps_per_example_counts_in_order(busy_file: Path,
                                                     small_ranges: None) -> None:
    serial = _report(busy_file, workers=1, keep_per_example=True)
    parallel = _report(busy_file, workers=2, keep_per_example=True)
    assert parallel == serial
    assert len(parallel["_per_example"]["openai"][0]) == parallel["examples"]


@pytest.mark.parametrize("boot", [
    "import sys; sys.exit(3)",  # dies at once
    "print('hello from sitecustomize'); " + _parallel._BOOT,  # talks on the result pipe
])
def test_a_broken_helper_is_replaced_by_a_thread(busy_file: Path, small_ranges: None,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 boot: str) -> None:
    monkeypatch.setattr(_parallel, "_BOOT", boot)
    assert _report(busy_file, workers=2) == _report(busy_file, workers=1)


def test_ranges_start_at_line_starts(busy_file: Path) -> None:
    data = busy_file.read_bytes()
    ranges = _parallel.plan_ranges(busy_file, len(data), 16)
    assert ranges[0][0] == 0
    assert ranges[-1][1] == len(data)
    for (_a, b), (c, _d) in itertools.pairwise(ranges):
        assert b == c
        assert data[c - 1:c] == b"\n"


def test_small_files_and_gzip_stay_serial(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "small.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(_chat_lines(10, 2)).encode()))
    rules = _validate.resolve_rules(TARGETS, None)
    assert _parallel.scan_file(JsonlSource(path), rules, max_issues_per_code=5, count=True,
                               keep_per_example=False, workers=2) is None
    assert _parallel.worker_count(None, 1000) == 1
