"""client.evaluate through the official openai SDK: against the emulator's deterministic
chat (a real OpenAI fine-tune life cycle) and a loopback server whose models and judge
answer by rule. Covers baselines, the cache, failures, the judge in both orders,
regressions, forgetting, cost and the CLI's JSON shape."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from typer.testing import CliRunner

from conftest import RuleServer, chat_records, chat_requests, write_jsonl
from tuneport._exceptions import ConfigError
from tuneport._models import EndpointState, ModelEndpoint
from tuneport.client.client import Client
from tuneport.evaluate import Judge

# The --json shape, exactly as the issue promises (fields may be added, none removed).
_STATS = {"type": "object", "required": ["mean", "ci_low", "ci_high"],
          "properties": {k: {"type": ["number", "null"]} for k in ("mean", "ci_low", "ci_high")}}
_MODEL = {"type": "object", "required": ["model", "metrics"],
          "properties": {"model": {"type": "string"},
                         "metrics": {"type": "object", "additionalProperties": _STATS}}}
JSON_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["job", "examples", "models", "pairwise", "regressions", "forgetting",
                 "failed", "usage"],
    "properties": {
        "job": {"type": "string"},
        "examples": {"type": "integer"},
        "models": {"type": "object", "required": ["tuned", "baseline"],
                   "properties": {"tuned": _MODEL, "baseline": _MODEL}},
        "pairwise": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["wins", "ties", "losses", "p_value"],
            "properties": {"wins": {"type": "integer"}, "ties": {"type": "integer"},
                           "losses": {"type": "integer"}, "p_value": {"type": "number"}}}},
        "regressions": {"type": "array", "items": {
            "type": "object", "required": ["index", "metric", "tuned", "baseline"],
            "properties": {"index": {"type": "integer"}, "metric": {"type": "string"},
                           "tuned": {"type": "number"}, "baseline": {"type": "number"}}}},
        "forgetting": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["examples", "tuned", "baseline", "fell_below"],
            "properties": {"examples": {"type": "integer"}, "tuned": {"type": "number"},
                           "baseline": {"type": "number"},
                           "fell_below": {"type": "boolean"}}}]},
        "failed": {"type": "integer"},
        "usage": {"type": "object", "required": ["requests", "cached", "tokens", "usd"],
                  "properties": {"requests": {"type": "integer"}, "cached": {"type": "integer"},
                                 "tokens": {"type": "integer"},
                                 "usd": {"type": ["number", "null"]}}},
    },
}


def check_shape(data: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.validate(data, JSON_SHAPE)


def test_openai_job_against_its_base_model(client: Client, openai_job: Any, emu: Any,
                                           tmp_path: Path) -> None:
    heldout = write_jsonl(tmp_path / "heldout.jsonl", chat_records(5))
    events: list[str] = []
    before = chat_requests(emu)
    report = client.evaluate(openai_job, heldout, on_progress=lambda e, _i: events.append(e))
    assert chat_requests(emu) - before == 10  # five prompts, two models
    assert report.models["tuned"].model == openai_job.fine_tuned_model
    assert report.models["baseline"].model == openai_job.base_model
    assert report.metric_names == ["token_f1", "rouge_l"]  # plain text: the defaults
    assert report.examples == 5
    assert report.failed == 0
    assert events[0] == "estimate"
    assert events[-1] == "done"
    assert "progress" in events
    # Tokens come from the replies' usage; dollars from the catalog's serving price.
    assert report.usage.tokens > 0
    assert report.usage.usd is not None
    assert report.usage.usd > 0
    assert report.usage.estimated_usd is not None
    assert report.usage.estimated_usd > 0
    data = report.to_json()
    check_shape(data)
    assert data["job"] == f"openai:{openai_job.id}"
    for name in report.metric_names:
        pair = data["pairwise"][name]
        assert pair["wins"] + pair["ties"] + pair["losses"] == 5
        for side in ("tuned", "baseline"):
            m = data["models"][side]["metrics"][name]
            assert m["ci_low"] <= m["mean"] <= m["ci_high"]


def test_a_second_run_makes_no_requests(client: Client, openai_job: Any, emu: Any,
                                        tmp_path: Path) -> None:
    heldout = write_jsonl(tmp_path / "heldout.jsonl", chat_records(4))
    first = client.evaluate(openai_job, heldout, metrics=["rouge_l"])
    sent = chat_requests(emu)
    again = client.evaluate(openai_job, heldout, metrics=["rouge_l"])
    other_metric = client.evaluate(openai_job, heldout, metrics=["chrf", "exact_match"])
    assert chat_requests(emu) == sent
    assert (first.usage.requests, first.usage.cached) == (8, 0)
    assert (again.usage.requests, again.usage.cached) == (0, 8)
    assert other_metric.usage.requests == 0
    assert other_metric.usage.usd == 0.0
    assert again.to_json()["models"] == first.to_json()["models"]
    # Another generation setting is another request.
    client.evaluate(openai_job, heldout, metrics=["rouge_l"], max_tokens=17)
    assert chat_requests(emu) == sent + 8


def test_transient_errors_are_retried_and_lasting_ones_recorded(
        client: Client, openai_job: Any, emu: Any, tmp_path: Path) -> None:
    heldout = write_jsonl(tmp_path / "heldout.jsonl", chat_records(3))
    emu.faults.schedule("server_error", path_contains="chat/completions", times=2)
    emu.faults.schedule("rate_limit", path_contains="chat/completions", times=1)
    report = client.evaluate(openai_job, heldout, concurrency=1)
    assert report.failed == 0
    assert report.usage.requests == 6 + 3
    # Four 500s in a row exhaust the policy's four attempts: that example fails, is kept.
    emu.faults.schedule("server_error", path_contains="chat/completions", times=4)
    failing = client.evaluate(openai_job, heldout, concurrency=1, max_tokens=40)
    assert failing.failed == 1
    assert failing.examples == 3
    failed = [r for r in failing.per_example if r.error]
    assert len(failed) == 1
    assert failed[0].tuned_answer is None
    assert "tuned:" in failed[0].error
    assert failed[0].tuned_scores == {}
    assert sum(p.wins + p.ties + p.losses for p in failing.pairwise.values()) == 2 * 2


def test_a_baseline_that_does_not_exist_fails_every_example_visibly(
        client: Client, openai_job: Any, tmp_path: Path) -> None:
    heldout = write_jsonl(tmp_path / "heldout.jsonl", chat_records(3))
    report = client.evaluate(openai_job, heldout, baseline="gpt-nonexistent")
    assert report.failed == 3
    assert all("baseline:" in (r.error or "") for r in report.per_example)
    data = report.to_json()
    check_shape(data)
    assert data["models"]["tuned"]["metrics"]["token_f1"]["mean"] is None  # nothing scored
    assert "n/a" in report.summary()


def test_baseline_base_where_the_provider_has_no_serverless_base() -> None:
    endpoint = ModelEndpoint(provider="together", model="me/llama-ft", kind="dedicated",
                             base_url="http://127.0.0.1:9/v1", state=EndpointState.READY,
                             base_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
    with pytest.raises(ConfigError, match=r"baseline=\('https://"):
        Client(provider="together").evaluate(endpoint, chat_records(2))
    not_ready = endpoint.model_copy(update={"state": EndpointState.NOT_DEPLOYED})
    with pytest.raises(ConfigError, match="deploy it first"):
        Client(provider="together").evaluate(not_ready, chat_records(2),
                                             baseline=("http://127.0.0.1:9/v1", "base"))


def answers_for(server: RuleServer, records: list[dict[str, Any]]) -> None:
    for r in records:
        server.answers[r["messages"][-2]["content"]] = r["messages"][-1]["content"]


def test_pairwise_judge_counts_a_win_only_when_both_orders_agree(
        rule_server: RuleServer, tmp_path: Path) -> None:
    records = chat_records(6)
    answers_for(rule_server, records)
    url = rule_server.url
    report = Client().evaluate((url, "good"), records, baseline=(url, "bad"),
                               metrics=["exact_match", "judge"], judge=(url, "judge"))
    assert report.pairwise["judge"].wins == 6
    assert report.pairwise["judge"].losses == 0
    assert report.pairwise["exact_match"].wins == 6
    assert report.models["tuned"].metrics["judge"].mean == 1.0
    judged = [r for r in rule_server.requests if r["model"] == "judge"]
    assert len(judged) == 12  # both orders for each example
    good, bad = "Open settings, choose reset, step 0.", "I do not know."
    answers = [r["messages"][0]["content"].split("Answer A:\n", 1)[1] for r in judged]
    orders = [a.index(good) < a.index(bad) for a in answers if good in a]
    assert sorted(orders) == [False, True]  # the tuned answer was A once and B once

    # A judge that always says "A" prefers each answer once: no win, no loss.
    biased = Client().evaluate((url, "good"), records, baseline=(url, "bad"),
                               judge=Judge(base_url=url, model="judge-first"))
    pair = biased.pairwise["judge"]
    assert (pair.wins, pair.ties, pair.losses) == (0, 6, 0)
    assert pair.p_value == 1.0


def test_the_judge_prompt_is_overridable(rule_server: RuleServer) -> None:
    records = chat_records(2)
    answers_for(rule_server, records)
    url = rule_server.url
    prompt = ("House rules {question}\nReference answer:\n{reference}\n\nAnswer A:\n"
              "{answer_a}\n\nAnswer B:\n{answer_b}\n\nOne word.")
    Client().evaluate((url, "good"), records, baseline=(url, "bad"), metrics=["judge"],
                      judge=Judge(base_url=url, model="judge", prompt=prompt))
    judged = [r["messages"][0]["content"] for r in rule_server.requests if r["model"] == "judge"]
    assert judged
    assert all(t.startswith("House rules How do I reset") for t in judged)
    with pytest.raises(ConfigError, match="answer_b"):
        Judge(base_url=url, model="judge", prompt="{answer_a} only")
    with pytest.raises(ConfigError, match="needs a judge"):
        Client().evaluate((url, "good"), records, baseline=(url, "bad"), metrics=["judge"])


def test_regressions_list_both_answers_worst_first(rule_server: RuleServer) -> None:
    records = chat_records(4)
    answers_for(rule_server, records)
    url = rule_server.url
    report = Client().evaluate((url, "bad"), records, baseline=(url, "good"),
                               metrics=["exact_match", "token_f1"])
    assert len(report.regressions) == 4
    first = report.regressions[0]
    assert first.metric == "exact_match"
    assert (first.tuned, first.baseline) == (0.0, 1.0)
    assert first.tuned_answer == "I do not know."
    assert first.baseline_answer == first.reference
    assert report.per_example[0].index == first.index
    assert report.pairwise["exact_match"].losses == 4
    assert report.pairwise["exact_match"].p_value == pytest.approx(0.125)
    none = Client().evaluate((url, "good"), records, baseline=(url, "good"))
    assert none.regressions == []


def test_forgetting_on_a_general_set(rule_server: RuleServer) -> None:
    general = Path(__file__).resolve().parents[2] / "examples" / "data" / "general.jsonl"
    rows = [json.loads(line) for line in general.read_text().splitlines() if line.strip()]
    assert len(rows) >= 20
    answers_for(rule_server, rows)
    records = chat_records(3)
    answers_for(rule_server, records)
    url = rule_server.url
    fell = Client().evaluate((url, "bad"), records, baseline=(url, "good"), regression=general)
    assert fell.forgetting is not None
    assert fell.forgetting.fell_below
    assert fell.forgetting.examples == len(rows)
    assert (fell.forgetting.tuned, fell.forgetting.baseline) == (0.0, 1.0)
    kept = Client().evaluate((url, "good"), records, baseline=(url, "good"), regression=general)
    assert kept.forgetting is not None
    assert not kept.forgetting.fell_below


def test_requests_keep_to_the_providers_rate(rule_server: RuleServer) -> None:
    from tuneport.evaluate import run_evaluation, target_for

    records = chat_records(5)
    answers_for(rule_server, records)
    start = time.monotonic()
    run_evaluation(target_for((rule_server.url, "good")), target_for((rule_server.url, "bad")),
                   records, job="t", concurrency=8, rate_limits={"custom": 20.0})
    # Ten requests evenly spaced at 20 per second take at least 9/20 s.
    assert time.monotonic() - start >= 0.45


def test_cli_eval_json_and_html(openai_job: Any, tmp_path: Path, emu: Any) -> None:
    from tuneport.cli import app

    heldout = write_jsonl(tmp_path / "heldout.jsonl", chat_records(3))
    html = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["eval", f"openai:{openai_job.id}", str(heldout),
                                      "--metric", "rouge_l", "--metric", "contains",
                                      "--max-examples", "2", "--html", str(html), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    check_shape(data)
    assert set(data["models"]["tuned"]["metrics"]) == {"rouge_l", "contains"}
    assert data["examples"] == 2
    assert data["usage"]["requests"] == 4
    assert html.is_file()
    assert "<svg" in html.read_text()
    assert "estimated cost" in result.stderr
    plain = CliRunner().invoke(app, ["eval", f"openai:{openai_job.id}", str(heldout),
                                     "--metric", "rouge_l"])
    assert plain.exit_code == 0
    assert "rouge_l" in plain.stdout
    assert "wins/ties/losses" in plain.stdout
    bad = CliRunner().invoke(app, ["eval", f"openai:{openai_job.id}", str(heldout),
                                   "--metric", "bleu", "--json"])
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output
    assert json.loads(bad.stdout)["type"] == "ConfigError"
    missing = CliRunner().invoke(app, ["eval", f"openai:{openai_job.id}", str(tmp_path / "no")])
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr


def test_nan_free_json_text(rule_server: RuleServer) -> None:
    report = Client().evaluate((rule_server.url, "good"), chat_records(2),
                               baseline=(rule_server.url, "missing-model-raises"),
                               metrics=["contains"])
    text = report.to_json_text()
    assert "NaN" not in text
    assert math.isnan(report.models["tuned"].metrics["contains"].mean)


def test_async_client_evaluates_in_a_worker_thread(rule_server: RuleServer) -> None:
    import asyncio

    from tuneport.client.client import AsyncClient

    records = chat_records(3)
    answers_for(rule_server, records)
    url = rule_server.url

    async def run() -> Any:
        async with AsyncClient() as client:
            return await client.evaluate((url, "good"), records, baseline=(url, "bad"),
                                         metrics=["exact_match"])

    report = asyncio.run(run())
    assert report.pairwise["exact_match"].wins == 3


def test_tool_calls_through_the_openai_sdk(rule_server: RuleServer) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    expected = {"id": "x", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Paris", "unit": "c"})}}
    records = [{"messages": [{"role": "user", "content": "Weather in Paris?"},
                             {"role": "assistant", "tool_calls": [expected]}],
                "tools": tools}]
    url = rule_server.url
    report = Client().evaluate((url, "tool"), records, baseline=(url, "bad"))
    assert report.metric_names == ["tool_call_match"]  # chosen from the data
    assert report.models["tuned"].metrics["tool_call_match"].mean == 1.0
    assert report.models["baseline"].metrics["tool_call_match"].mean == 0.0
    assert rule_server.requests[0]["tools"] == tools  # the example's tools were sent
    assert "get_weather" in (report.per_example[0].tuned_answer or "")
