"""One preference file in, each provider's format out: both input shapes read the same,
every target validates it, and each renderer writes OpenAI's preference lines, fingerprinted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneport._exceptions import DatasetError
from tuneport.dataset import Dataset
from tuneport.dataset._preference import check_method_format

EXAMPLES = Path(__file__).parents[2] / "examples" / "data" / "preference.jsonl"
TARGETS = ("openai", "together", "fireworks", "local")


def _common_shape(path: Path, out: Path, *, strings: bool) -> None:
    rows = []
    for line in path.read_text().splitlines():
        pair = json.loads(line)
        msgs = pair["input"]["messages"]
        good, bad = pair["preferred_output"], pair["non_preferred_output"]
        if strings:  # the string shape has no system prompt: keep the user turn only
            rows.append({"prompt": msgs[-1]["content"], "chosen": good[0]["content"],
                         "rejected": bad[0]["content"]})
        else:
            rows.append({"prompt": msgs, "chosen": good, "rejected": bad})
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_the_example_file_is_useful_and_valid_everywhere() -> None:
    report = Dataset.from_jsonl(EXAMPLES).validate(TARGETS)
    assert report.format == "preference"
    assert report.examples >= 50
    assert {t for t in TARGETS if report.ok_for(t)} == set(TARGETS)
    assert report.issues == []


def test_prompt_chosen_rejected_lists_render_exactly_as_the_canonical_file(
        tmp_path: Path) -> None:
    common = tmp_path / "common.jsonl"
    _common_shape(EXAMPLES, common, strings=False)
    for target in TARGETS:
        a = Dataset.from_jsonl(EXAMPLES).render(target, tmp_path / "a" / target)
        b = Dataset.from_jsonl(common).render(target, tmp_path / "b" / target)
        assert a.format == b.format == "preference"
        assert a.fingerprint == b.fingerprint, target
        first = json.loads(a.path.read_text().splitlines()[0])
        assert set(first) == {"input", "preferred_output", "non_preferred_output"}


def test_prompt_chosen_rejected_strings_become_a_user_turn_and_two_replies(
        tmp_path: Path) -> None:
    path = tmp_path / "strings.jsonl"
    _common_shape(EXAMPLES, path, strings=True)
    ds = Dataset.from_jsonl(path)
    assert ds.validate(TARGETS).ok
    first = next(iter(ds.iter_examples()))
    line = first.to_dict()
    assert line["input"]["messages"][0]["role"] == "user"
    assert line["preferred_output"][0]["role"] == "assistant"


def test_each_problem_has_its_line_and_code_for_every_target(tmp_path: Path) -> None:
    good = json.loads(EXAMPLES.read_text().splitlines()[0])
    rows = [good] * 11 + [
        {**good, "non_preferred_output": good["preferred_output"]},           # 12 identical
        {"prompt": "Hi", "chosen": "", "rejected": "No."},                    # 13 empty side
        {"prompt": [{"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Yo"}],
         "chosen": "a", "rejected": "b"},                                     # 14 ends on assistant
        {"chosen": "a", "rejected": "b"},                                     # 15 no prompt
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = Dataset.from_jsonl(path).validate(TARGETS)
    got = sorted((i.line, i.code) for i in report.issues)
    assert got == [(12, "identical_preference_outputs"), (13, "empty_preference_output"),
                   (14, "preference_prompt_ends_with_assistant"), (15, "missing_key")]
    for issue in report.issues:
        assert set(issue.targets) == set(TARGETS)
        assert issue.severity == "error"


def test_token_counts_cover_both_replies(tmp_path: Path) -> None:
    good = json.loads(EXAMPLES.read_text().splitlines()[0])
    longer = {**good, "non_preferred_output": [
        {"role": "assistant", "content": good["non_preferred_output"][0]["content"] * 20}]}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(good) + "\n")
    b.write_text(json.dumps(longer) + "\n")
    ta = Dataset.from_jsonl(a).validate(("openai",)).tokens["openai"].total
    tb = Dataset.from_jsonl(b).validate(("openai",)).tokens["openai"].total
    assert tb > ta  # the rejected side is counted


@pytest.mark.parametrize(("method", "fmt", "words"), [
    ("dpo-lora", "chat", "trains on preference pairs"),
    ("lora", "preference", "use method='dpo-lora'"),
])
def test_method_and_format_must_agree(method: str, fmt: str, words: str) -> None:
    with pytest.raises(DatasetError, match=words):
        check_method_format(method, fmt)
    check_method_format("dpo-full", "preference")
    check_method_format("full", "chat")
