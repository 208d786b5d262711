"""Each metric on cases whose score is known, and the libraries' own scores where one does
the work (rouge-score, sacrebleu, jsonschema)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneport._exceptions import ConfigError
from tuneport.evaluate import Reference, Reply, default_metric_names, resolve_metrics


def score(name: str, reply: str, ref: str, **kw: object) -> float:
    (metric,) = resolve_metrics([name], [Reference(ref)])
    return metric.score(Reply(reply, **kw), Reference(ref))  # type: ignore[arg-type]


def test_exact_match_ignores_only_whitespace_runs() -> None:
    assert score("exact_match", "  The cow is red. ", "The  cow is red.") == 1.0
    assert score("exact_match", "the cow is red.", "The cow is red.") == 0.0


def test_contains_is_case_insensitive() -> None:
    assert score("contains", "I think the answer is PARIS, France.", "Paris") == 1.0
    assert score("contains", "Lyon", "Paris") == 0.0


def test_token_f1_by_hand() -> None:
    # reply tokens: cow is red (articles dropped); reference: cow is blue -> 2 common
    # precision 2/3, recall 2/3, F1 2/3.
    assert score("token_f1", "The cow is red!", "the cow is blue") == pytest.approx(2 / 3)
    assert score("token_f1", "", "") == 1.0
    assert score("token_f1", "nothing alike", "cow") == 0.0


def test_rouge_l_equals_the_longest_common_subsequence_f_measure() -> None:
    # LCS of "a b c d e" and "a c e f" is "a c e": P 3/4, R 3/5, F = 2PR/(P+R) = 2/3.
    got = score("rouge_l", "a c e f", "a b c d e")
    assert got == pytest.approx(2 * (3 / 4) * (3 / 5) / (3 / 4 + 3 / 5))
    from rouge_score import rouge_scorer

    direct = rouge_scorer.RougeScorer(["rougeL"]).score("the cat sat", "a cat sat down")
    assert score("rouge_l", "a cat sat down", "the cat sat") == direct["rougeL"].fmeasure


def test_chrf_is_sacrebleus_sentence_chrf_on_a_0_to_1_scale() -> None:
    import sacrebleu

    expected = sacrebleu.sentence_chrf("The cat sat on the mat.", ["A cat sat on a mat."]).score
    assert score("chrf", "The cat sat on the mat.", "A cat sat on a mat.") == pytest.approx(
        expected / 100)
    assert score("chrf", "identical text", "identical text") == pytest.approx(1.0)


def test_json_valid_accepts_a_code_fence_and_refuses_prose() -> None:
    assert score("json_valid", '{"a": 1}', "{}") == 1.0
    assert score("json_valid", '```json\n{"a": 1}\n```', "{}") == 1.0
    assert score("json_valid", "Sure! {a: 1}", "{}") == 0.0


def test_json_schema_from_the_reference_and_given(tmp_path: Path) -> None:
    ref = '{"name": "Ada", "age": 36}'
    assert score("json_schema", '{"name": "Bob", "age": 7}', ref) == 1.0
    assert score("json_schema", '{"name": "Bob"}', ref) == 0.0  # a required key missing
    assert score("json_schema", '{"name": "Bob", "age": "7"}', ref) == 0.0  # wrong type
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "required": ["id"],
                                  "properties": {"id": {"type": "integer"}}}))
    assert score(f"json_schema:{schema}", '{"id": 3}', "whatever") == 1.0
    assert score(f"json_schema:{schema}", '{"id": 3.5}', "whatever") == 0.0
    schema.write_text('{"type": 12}')
    with pytest.raises(ConfigError, match="schema is not valid"):
        resolve_metrics([f"json_schema:{schema}"], [])


def test_regex_needs_a_valid_pattern() -> None:
    assert score(r"regex:^\d{3}-\d{4}$", "555-1234", "") == 1.0
    assert score(r"regex:^\d{3}-\d{4}$", "call 555-1234", "") == 0.0
    with pytest.raises(ConfigError, match="needs a pattern"):
        resolve_metrics(["regex"], [])
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        resolve_metrics(["regex:("], [])


def call(name: str, args: dict[str, object] | str) -> dict[str, object]:
    text = args if isinstance(args, str) else json.dumps(args)
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": text}}


def test_tool_call_match_compares_names_and_parsed_arguments() -> None:
    want = (call("get_weather", {"city": "Paris", "unit": "c"}),)
    ref = Reference("", want)
    (metric,) = resolve_metrics(["tool_call_match"], [ref])
    # Same arguments, other key order and spacing: a match.
    same = Reply("", (call("get_weather", '{"unit":"c",  "city":"Paris"}'),))
    assert metric.score(same, ref) == 1.0
    assert metric.score(Reply("", (call("get_weather", {"city": "Rome"}),)), ref) == 0.5
    assert metric.score(Reply("", (call("get_time", {"city": "Paris"}),)), ref) == 0.0
    assert metric.score(Reply("It is sunny."), ref) == 0.0
    two = Reply("", (same.tool_calls[0], call("extra", {})))
    assert metric.score(two, ref) == 0.5  # one match over the longer list of two
    assert metric.score(Reply("plain"), Reference("plain")) == 1.0  # nothing expected


def test_default_metrics_follow_the_data() -> None:
    assert default_metric_names([Reference("", (call("f", {}),))]) == ["tool_call_match"]
    assert default_metric_names([Reference('{"a": 1}'), Reference("[1, 2]")]) == ["json_valid"]
    assert default_metric_names([Reference("Hello there.")]) == ["token_f1", "rouge_l"]
    # A bare number is valid JSON but not a JSON reply.
    assert default_metric_names([Reference("42")]) == ["token_f1", "rouge_l"]


def test_unknown_metric_names_the_near_ones() -> None:
    with pytest.raises(ConfigError, match="Did you mean: rouge_l"):
        resolve_metrics(["rouge-l"], [])
    with pytest.raises(ConfigError, match="named twice"):
        resolve_metrics(["chrf", "chrf"], [])
