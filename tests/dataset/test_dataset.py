"""Readers, report shape, bounded issue lists, fingerprints, canonical examples."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from tuneport._exceptions import DatasetError, UnknownModelError, UnknownProviderError
from tuneport.dataset import ChatExample, CompletionExample, Dataset, PreferenceExample

from .conftest import chat

REPORT_SCHEMA = {
    "type": "object",
    "required": ["ok", "format", "examples", "issues", "issue_counts", "tokens"],
    "properties": {
        "ok": {"type": "boolean"},
        "format": {"enum": ["chat", "completion", "text", "preference", "mixed", "unknown"]},
        "examples": {"type": "integer"},
        "issues": {"type": "array", "items": {
            "type": "object", "required": ["line", "code", "severity", "message", "targets"],
            "properties": {
                "line": {"type": "integer", "minimum": 0}, "code": {"type": "string"},
                "severity": {"enum": ["error", "warning"]}, "message": {"type": "string"},
                "targets": {"type": "array", "items": {"type": "string"}}}}},
        "issue_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "tokens": {"type": "object", "additionalProperties": {
            "type": "object",
            "required": ["tokenizer", "exact", "total", "max", "mean", "over_limit",
                         "billed_estimate"],
            "properties": {
                "tokenizer": {"type": "string"}, "exact": {"type": "boolean"},
                "total": {"type": "integer"}, "max": {"type": "integer"},
                "mean": {"type": "number"}, "over_limit": {"type": "integer"},
                "billed_estimate": {"type": "object", "required": ["epochs", "tokens"],
                                    "properties": {"epochs": {"type": "integer"},
                                                   "tokens": {"type": "integer"}}}}}},
    },
}


def test_report_matches_the_issue_json_shape(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl([chat()] * 12 + ["oops"])
    data = Dataset.from_jsonl(path).validate().to_dict()
    jsonschema.validate(data, REPORT_SCHEMA)
    assert data["ok"] is False
    assert data["issue_counts"] == {"invalid_json": 1}
    assert set(data["tokens"]) == {"openai", "together", "fireworks", "local"}
    json.dumps(data)  # serializable


def test_issues_are_capped_per_code_with_exact_counts(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl(["{bad"] * 5000 + ["[]"] * 7 + [chat()])
    report = Dataset.from_jsonl(path).validate(("local",), max_issues_per_code=3)
    assert report.issue_counts == {"invalid_json": 5000, "not_an_object": 7}
    assert [i.line for i in report.issues if i.code == "invalid_json"] == [1, 2, 3]
    assert len(report.issues) == 6
    assert report.errors_by_target["local"] == 5007
    assert not report.ok
    assert report.examples == 1


def test_all_problems_in_one_pass_not_just_the_first(write_jsonl: Callable[..., Path]) -> None:
    bad = {"messages": [{"role": "robot", "content": ""}, {"role": "assistant", "content": "x",
                                                          "weight": 3}]}
    report = Dataset.from_jsonl(write_jsonl([bad])).validate(("local",))
    assert {i.code for i in report.issues} >= {"unknown_role", "empty_content",
                                               "invalid_weight"}


def test_gzip_is_read_like_plain(tmp_path: Path) -> None:
    lines = "".join(json.dumps(chat(f"q{i}")) + "\n" for i in range(20))
    plain = tmp_path / "d.jsonl"
    plain.write_text(lines)
    packed = tmp_path / "d.jsonl.gz"
    packed.write_bytes(gzip.compress(lines.encode()))
    a = Dataset.from_jsonl(plain).validate()
    b = Dataset.from_jsonl(packed).validate()
    assert a.to_dict()["tokens"] == b.to_dict()["tokens"]
    assert b.examples == 20
    assert b.ok
    assert Dataset.from_jsonl(plain).fingerprint == Dataset.from_jsonl(packed).fingerprint


def test_missing_file_and_bad_inputs_raise_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        Dataset.from_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(DatasetError):
        Dataset.from_jsonl(tmp_path)
    with pytest.raises(DatasetError):
        Dataset.from_records("not records")  # type: ignore[arg-type]
    with pytest.raises(DatasetError):
        Dataset.from_hf([1, 2])


def test_unknown_target_and_model_suggest_names() -> None:
    ds = Dataset.from_records([chat()])
    with pytest.raises(UnknownProviderError) as exc:
        ds.validate(("togther",))
    assert "together" in exc.value.suggestions
    with pytest.raises(UnknownModelError) as exc2:
        ds.validate(("openai",), model="gpt-4o-mnii")
    assert "gpt-4o-mini" in exc2.value.suggestions


def test_fingerprint_ignores_whitespace_and_key_order(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_text('{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Yo"}]}\n')
    b.write_text('{ "messages" : [ {"content": "Hi", "role": "user"},\n'.replace("\n", "")
                 + ' {"content":"Yo","role":"assistant"} ] }\n\n')
    fa, fb = Dataset.from_jsonl(a).fingerprint, Dataset.from_jsonl(b).fingerprint
    assert fa == fb
    assert len(fa) == 64
    recs = Dataset.from_records([{"messages": [{"content": "Hi", "role": "user"},
                                               {"role": "assistant", "content": "Yo"}]}])
    assert recs.fingerprint == fa
    c = tmp_path / "c.jsonl"
    c.write_text(a.read_text().replace("Yo", "Yo!"))
    assert Dataset.from_jsonl(c).fingerprint != fa


def test_iter_examples_gives_canonical_objects_with_lines(
        write_jsonl: Callable[..., Path]) -> None:
    recs = [chat("a"), "broken", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, {"type": "text", "text": "y"}]},
        {"role": "assistant", "content": "z", "weight": 1}]}]
    examples = list(Dataset.from_jsonl(write_jsonl(recs)).iter_examples())
    assert [e.line for e in examples] == [1, 3]
    assert all(isinstance(e, ChatExample) for e in examples)
    second = examples[1]
    assert isinstance(second, ChatExample)
    assert second.messages[0].content == "xy"
    assert second.messages[1].weight == 1
    comp = list(Dataset.from_records([{"prompt": "p", "completion": "c"}]).iter_examples())
    assert comp == [CompletionExample(prompt="p", completion="c", line=1)]
    pref = {"input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}]}
    (p,) = Dataset.from_records([pref]).iter_examples()
    assert isinstance(p, PreferenceExample)
    assert p.preferred.content == "good"
    assert p.to_dict() == pref


def test_from_hf_dataset() -> None:
    datasets = pytest.importorskip("datasets")
    hf = datasets.Dataset.from_list([chat(f"q{i}") for i in range(4)])
    report = Dataset.from_hf(hf).validate(("local", "together"))
    assert report.ok
    assert report.examples == 4
    assert report.format == "chat"


def test_one_shot_iterator_is_read_twice() -> None:
    ds = Dataset.from_records(chat(str(i)) for i in range(3))
    assert ds.validate(("local",)).examples == 3
    assert len(list(ds.iter_examples())) == 3


def test_tools_and_weights_pass(write_jsonl: Callable[..., Path]) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    rec = {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
           "messages": [{"role": "user", "content": "weather?"},
                        {"role": "assistant", "content": None, "tool_calls": [call],
                         "weight": 0},
                        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                        {"role": "assistant", "content": "It is sunny.", "weight": 1}]}
    report = Dataset.from_jsonl(write_jsonl([rec] * 10)).validate()
    assert report.ok, report.issues
    assert report.issues == []
