"""Property tests: arbitrary bytes and structures give a report, never an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneport._exceptions import DatasetError
from tuneport.dataset import CODES, Dataset

TARGETS = ("openai", "together", "fireworks", "local")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["role", "content", "messages", "name", "weight", "x",
                                       "tool_calls", "tool_call_id", "type", "text", "prompt",
                                       "completion", "input", "preferred_output", "id",
                                       "non_preferred_output", "function", "arguments"]),
                      inner, max_size=5),
    max_leaves=20,
)
roles = st.sampled_from(["system", "user", "assistant", "tool", "developer", "robot", ""])
message = st.fixed_dictionaries(
    {"role": roles},
    optional={"content": st.none() | st.text(max_size=30) | st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"]),
                               "text": st.text(max_size=5)}), max_size=2),
        "weight": st.sampled_from([0, 1, 2, 0.5, True, None]),
        "name": st.text(max_size=5),
        "tool_call_id": st.sampled_from(["c1", "c2"]),
        "tool_calls": st.lists(st.fixed_dictionaries({
            "id": st.sampled_from(["c1", "c2"]), "type": st.just("function"),
            "function": st.fixed_dictionaries({"name": st.just("f"),
                                               "arguments": st.just("{}")})}), max_size=2)})
chatty = st.fixed_dictionaries({"messages": st.lists(message, max_size=6)})


def _check(report: Any) -> None:
    data = report.to_dict()
    json.dumps(data)
    assert all(i["code"] in CODES for i in data["issues"])
    assert sum(data["issue_counts"].values()) >= len(data["issues"])
    assert data["examples"] >= 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_arbitrary_bytes_give_a_report(tmp_path_factory: Any, lines: list[bytes]) -> None:
    path: Path = tmp_path_factory.mktemp("b") / "d.jsonl"
    data = b"\n".join(lines)
    path.write_bytes(data)
    ds = Dataset.from_jsonl(path)
    try:
        _check(ds.validate(TARGETS))
        assert len(ds.fingerprint) == 64
        list(ds.iter_examples())
    except DatasetError:
        # The one expected failure: gzip magic bytes on a stream that is not gzip.
        assert data.startswith(b"\x1f\x8b")


@settings(max_examples=100, deadline=None)
@given(st.lists(json_values, max_size=6))
def test_arbitrary_json_structures_give_a_report(records: list[Any]) -> None:
    ds = Dataset.from_records(records)
    _check(ds.validate(TARGETS))
    list(ds.iter_examples())
    assert len(ds.fingerprint) == 64


@settings(max_examples=120, deadline=None)
@given(st.lists(chatty, min_size=1, max_size=5))
def test_message_like_structures_give_a_report(records: list[dict[str, Any]]) -> None:
    ds = Dataset.from_records(records)
    report = ds.validate(TARGETS)
    _check(report)
    # Whatever is usable renders back to JSON that validates the same way.
    for ex in ds.iter_examples():
        json.dumps(ex.to_dict())
