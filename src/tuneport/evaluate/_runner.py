"""One evaluation, start to end: held-out examples in, :class:`EvalReport` out.

1. Read the held-out examples: the conversation up to its last assistant turn is the
   prompt, that turn is the reference.
2. Estimate the cost of the requests the cache cannot answer, and say it (``estimate``).
3. Ask both models (and the judge, with both answers in both orders) through the engine.
4. Score each example with each metric; an example either model failed is counted in
   ``failed`` and shown with its error, but not scored.
5. Per model and metric the mean with a 95% bootstrap interval; per metric the paired
   wins/ties/losses and the sign test; the regressions; the general set, if given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tuneport._exceptions import ConfigError, DatasetError, TuneportError
from tuneport.dataset import ChatExample, CompletionExample, Dataset
from tuneport.evaluate._engine import DEFAULT_RATE_LIMITS, Engine, Outcome, Request, RetryCall
from tuneport.evaluate._judge import Judge, judge_outcome
from tuneport.evaluate._metrics import JUDGE, Metric, Reference, Reply, contains, resolve_metrics
from tuneport.evaluate._report import (
    EvalReport,
    ExampleResult,
    Forgetting,
    MetricSummary,
    ModelSummary,
    PairwiseSummary,
    Regression,
    Usage,
)
from tuneport.evaluate._stats import bootstrap_mean, paired
from tuneport.evaluate._targets import Target, describe_messages
from tuneport.ledger import EvalStore

__all__ = ["EvalItem", "load_items", "run_evaluation"]

#: Default reply length: room for a paragraph, short enough to keep evaluation cheap.
DEFAULT_MAX_TOKENS = 256


@dataclass(frozen=True)
class EvalItem:
    """A held-out example split into what the model sees and what it should answer."""

    index: int
    line: int | None
    messages: list[dict[str, Any]]
    reference: Reference
    tools: list[Any] | None = None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def load_items(data: Dataset | str | Path | Sequence[dict[str, Any]],
               max_examples: int | None = None) -> list[EvalItem]:
    """The evaluation items of a held-out dataset (chat or prompt/completion).

    Raises:
        DatasetError: an example has no assistant reply to compare with, the format cannot
            be evaluated, or there is no usable example.
    """
    dataset = data if isinstance(data, Dataset) else (
        Dataset.from_jsonl(data) if isinstance(data, str | Path)
        else Dataset.from_records(list(data)))
    items: list[EvalItem] = []
    for example in dataset.iter_examples():
        if max_examples is not None and len(items) >= max_examples:
            break
        line = example.line or None
        if isinstance(example, CompletionExample):
            items.append(EvalItem(len(items), line,
                                  [{"role": "user", "content": example.prompt}],
                                  Reference(example.completion)))
            continue
        if not isinstance(example, ChatExample):
            raise DatasetError(f"{dataset!r} line {example.line}: {example.format} examples "
                               "cannot be evaluated; give chat or prompt/completion examples.")
        last = max((i for i, m in enumerate(example.messages) if m.role == "assistant"),
                   default=None)
        if last is None:
            raise DatasetError(f"{dataset!r} line {example.line}: no assistant message to "
                               "compare the models' replies with; end each held-out example "
                               "with the expected assistant reply.")
        reply = example.messages[last]
        prompt = [{k: v for k, v in m.to_dict().items() if k != "weight"}
                  for m in example.messages[:last]]
        items.append(EvalItem(len(items), line, prompt,
                              Reference(_text(reply.content), tuple(reply.tool_calls or ())),
                              example.tools))
    if not items:
        raise DatasetError(f"{dataset!r} has no usable examples to evaluate (run tuneport "
                           "validate on it to see why).")
    return items


def token_prices(target: Target) -> tuple[Decimal, Decimal] | None:
    """USD per 1M input and output tokens for ``target`` from the catalog (local: free;
    None when the catalog has no per-token price, e.g. a dedicated deployment)."""
    if target.provider == "local":
        return Decimal(0), Decimal(0)
    if not target.base_model:
        return None
    from tuneport.catalog import load_catalog

    try:
        entry = load_catalog().resolve_model(target.provider, target.base_model)
    except TuneportError:
        return None
    serving = entry.serving
    if serving is None or serving.kind != "per_1m_tokens":
        return None
    assert serving.input_usd_per_1m is not None
    assert serving.output_usd_per_1m is not None
    return serving.input_usd_per_1m, serving.output_usd_per_1m


def _usd(prices: Mapping[str, tuple[Decimal, Decimal] | None],
         spent: Mapping[str, list[int]]) -> float | None:
    total = Decimal(0)
    for cache_id, (tokens_in, tokens_out) in spent.items():
        price = prices.get(cache_id)
        if price is None:
            if tokens_in or tokens_out:
                return None
            continue
        total += (price[0] * tokens_in + price[1] * tokens_out) / Decimal(1_000_000)
    return float(total)


def _rough_tokens(messages: list[dict[str, Any]]) -> int:
    # About four characters a token in English, plus a few per message for the template.
    return sum(4 + len(_text(m.get("content"))) // 4 for m in messages)


@dataclass
class _Plan:
    requests: list[Request]
    outcomes: list[Outcome]


def _summary(values: Sequence[float], seed: int) -> MetricSummary:
    interval = bootstrap_mean(values, seed=seed)
    return MetricSummary(mean=interval.mean, ci_low=interval.low, ci_high=interval.high)


def run_evaluation(
    tuned: Target,
    baseline: Target,
    heldout: Dataset | str | Path | Sequence[dict[str, Any]],
    *,
    job: str,
    metrics: Sequence[str | Metric] | None = None,
    judge: Judge | None = None,
    regression: Dataset | str | Path | Sequence[dict[str, Any]] | None = None,
    max_examples: int | None = None,
    concurrency: int = 8,
    seed: int = 0,
    store: EvalStore | None = None,
    retry: RetryCall | None = None,
    rate_limits: Mapping[str, float] | None = None,
    margin: float = 0.1,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    on_progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> EvalReport:
    """Evaluate ``tuned`` against ``baseline`` on held-out data (see ``Client.evaluate``)."""
    items = load_items(heldout, max_examples)
    chosen = resolve_metrics(metrics, [it.reference for it in items])
    if judge is not None and not any(m.name == JUDGE for m in chosen):
        chosen.append(Metric(JUDGE, contains, pairwise=True))
    if any(m.name == JUDGE for m in chosen) and judge is None:
        raise ConfigError("The judge metric needs a judge model: judge=('http://.../v1', "
                          "'model') or tuneport.evaluate.Judge(...) (CLI: --judge URL#MODEL).")
    general = load_items(regression) if regression is not None else []
    notify = on_progress or (lambda _event, _info: None)
    engine = Engine(store=store, retry=retry or (lambda fn: fn()), concurrency=concurrency,
                    rate_limits=dict(DEFAULT_RATE_LIMITS if rate_limits is None
                                     else rate_limits),
                    progress=notify)
    prices = {t.cache_id: token_prices(t) for t in (tuned, baseline)}

    def requests_for(target: Target, group: list[EvalItem]) -> list[Request]:
        return [Request(target, it.messages, max_tokens, it.tools) for it in group]

    asked = [requests_for(t, g) for g in (items, general) for t in (tuned, baseline)]
    flat = [r for group in asked for r in group]
    expected = [it.reference for g in (items, general) for _t in (tuned, baseline) for it in g]
    _announce_estimate(engine, flat, expected, prices, judge is not None, notify)

    outcomes = engine.run(flat)
    cut = 0
    answers: list[list[Outcome]] = []
    for group in asked:
        answers.append(outcomes[cut:cut + len(group)])
        cut += len(group)
    tuned_out, base_out, gen_tuned, gen_base = answers

    judged: dict[int, Outcome | float] = {}
    if judge is not None:
        judged = _run_judge(engine, judge, items, tuned_out, base_out)

    results, scores, failed = _score(items, chosen, tuned_out, base_out, judged)
    names = [m.name for m in chosen]
    models = {
        "tuned": ModelSummary(model=tuned.label, metrics={
            n: _summary([s[0][n] for s in scores.values()], seed) for n in names}),
        "baseline": ModelSummary(model=baseline.label, metrics={
            n: _summary([s[1][n] for s in scores.values()], seed) for n in names}),
    }
    pairwise = {}
    for n in names:
        pair = paired([s[0][n] for s in scores.values()], [s[1][n] for s in scores.values()])
        pairwise[n] = PairwiseSummary(wins=pair.wins, ties=pair.ties, losses=pair.losses,
                                      p_value=pair.p_value)
    regressions = _regressions(items, results, scores, names, margin)
    forgetting = _forgetting(general, gen_tuned, gen_base, seed, regression)
    prices_usd = _usd(prices, engine.spent)
    if judge is not None and prices_usd is not None:
        judge_spent = {k: v for k, v in engine.spent.items() if k not in prices}
        if any(sum(v) for v in judge_spent.values()):
            prices_usd = None  # the judge's own price is not in the catalog
    estimate = engine.estimate
    order = {(r.index): k for k, r in enumerate(regressions)}
    per_example = sorted(results, key=lambda r: (order.get(r.index, len(order)), r.index))
    notify("done", {"failed": failed, "requests": engine.requests, "cached": engine.cached})
    return EvalReport(
        job=job, examples=len(items), models=models, pairwise=pairwise,
        regressions=regressions, forgetting=forgetting, failed=failed,
        usage=Usage(requests=engine.requests, cached=engine.cached, tokens=engine.tokens,
                    usd=prices_usd, estimated_requests=estimate.get("requests", 0),
                    estimated_tokens=estimate.get("tokens", 0),
                    estimated_usd=estimate.get("usd"), notes=tuple(estimate.get("notes", ()))),
        margin=margin, seed=seed, per_example=per_example,
    )


def _announce_estimate(engine: Engine, requests: list[Request], expected: list[Reference],
                       prices: Mapping[str, tuple[Decimal, Decimal] | None], judged: bool,
                       notify: Callable[[str, dict[str, Any]], None]) -> None:
    """Count what the cache cannot answer and price it before anything is sent."""
    uncached = [(k, r) for k, r in enumerate(requests) if engine.lookup(r) is None]
    tokens_in = tokens_out = 0
    usd: Decimal | None = Decimal(0)
    notes: list[str] = []
    for k, req in uncached:
        t_in = _rough_tokens(req.messages)
        # The reference's length is the best guess of the reply's.
        t_out = min(req.max_tokens, max(8, len(expected[k].text) // 4))
        tokens_in, tokens_out = tokens_in + t_in, tokens_out + t_out
        price = prices.get(req.target.cache_id)
        if price is None:
            usd = None
        elif usd is not None:
            usd += (price[0] * t_in + price[1] * t_out) / Decimal(1_000_000)
    for cache_id, price in prices.items():
        if price is None:
            notes.append(f"{cache_id}: no per-token price in the catalog (a dedicated "
                         "deployment bills by the hour while it is up)")
    if judged:
        notes.append("the judge's requests (two per example) come on top")
    info = {"requests": len(uncached), "cached": len(requests) - len(uncached),
            "tokens": tokens_in + tokens_out, "usd": None if usd is None else float(usd),
            "notes": notes}
    engine.estimate = info
    notify("estimate", info)


def _run_judge(engine: Engine, judge: Judge, items: list[EvalItem], tuned_out: list[Outcome],
               base_out: list[Outcome]) -> dict[int, Outcome | float]:
    from tuneport.evaluate._targets import OpenAITarget

    target = OpenAITarget(label=judge.model, provider="judge", base_url=judge.base_url,
                          model=judge.model, api_key=judge.api_key)
    both = [it for it in items
            if tuned_out[it.index].response is not None and base_out[it.index].response is not None]
    reqs: list[Request] = []
    for it in both:
        question = describe_messages(it.messages)
        a = str(tuned_out[it.index].response["text"])  # type: ignore[index]
        b = str(base_out[it.index].response["text"])  # type: ignore[index]
        reqs.append(Request(target, judge.messages(question, it.reference.text, a, b),
                            judge.max_tokens))
        reqs.append(Request(target, judge.messages(question, it.reference.text, b, a),
                            judge.max_tokens))
    try:
        outcomes = engine.run(reqs)
    finally:
        target.close()
    judged: dict[int, Outcome | float] = {}
    for k, it in enumerate(both):
        first, second = outcomes[2 * k], outcomes[2 * k + 1]
        if first.response is None or second.response is None:
            judged[it.index] = first if first.response is None else second
        else:
            judged[it.index] = judge_outcome(str(first.response["text"]),
                                             str(second.response["text"]))
    return judged


def _reply(outcome: Outcome) -> Reply:
    assert outcome.response is not None
    calls = outcome.response.get("tool_calls") or ()
    return Reply(str(outcome.response.get("text") or ""), tuple(calls))


def _score(items: list[EvalItem], metrics: list[Metric], tuned_out: list[Outcome],
           base_out: list[Outcome], judged: Mapping[int, Outcome | float],
           ) -> tuple[list[ExampleResult], dict[int, tuple[dict[str, float], dict[str, float]]],
                      int]:
    results: list[ExampleResult] = []
    scores: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
    failed = 0
    for it in items:
        t, b = tuned_out[it.index], base_out[it.index]
        error = "; ".join(f"{who}: {o.error}" for who, o in (("tuned", t), ("baseline", b))
                          if o.error)
        verdict = judged.get(it.index)
        if not error and isinstance(verdict, Outcome):
            error = f"judge: {verdict.error}"
        t_scores: dict[str, float] = {}
        b_scores: dict[str, float] = {}
        if not error:
            for m in metrics:
                if m.pairwise:
                    win = float(verdict) if isinstance(verdict, float) else 0.5
                    t_scores[m.name], b_scores[m.name] = win, 1.0 - win
                else:
                    t_scores[m.name] = m.score(_reply(t), it.reference)
                    b_scores[m.name] = m.score(_reply(b), it.reference)
            scores[it.index] = (t_scores, b_scores)
        else:
            failed += 1
        results.append(ExampleResult(
            index=it.index, line=it.line, prompt=describe_messages(it.messages),
            reference=it.reference.text or _calls_text(it.reference.tool_calls),
            tuned_answer=_answer_text(t), baseline_answer=_answer_text(b),
            tuned_scores=t_scores, baseline_scores=b_scores, error=error or None))
    return results, scores, failed


def _calls_text(calls: Sequence[dict[str, Any]]) -> str:
    out = []
    for c in calls:
        fn = c.get("function") or {}
        out.append(f"{fn.get('name')}({fn.get('arguments')})")
    return "; ".join(out)


def _answer_text(outcome: Outcome) -> str | None:
    if outcome.response is None:
        return None
    text = str(outcome.response.get("text") or "")
    calls = outcome.response.get("tool_calls") or ()
    return text or _calls_text(calls)


def _regressions(items: list[EvalItem], results: list[ExampleResult],
                 scores: Mapping[int, tuple[dict[str, float], dict[str, float]]],
                 names: list[str], margin: float) -> list[Regression]:
    by_index = {r.index: r for r in results}
    found: list[Regression] = []
    for it in items:
        if it.index not in scores:
            continue
        t_scores, b_scores = scores[it.index]
        # One entry per example: the metric on which it dropped the most.
        drops = [(b_scores[n] - t_scores[n], n) for n in names
                 if b_scores[n] - t_scores[n] > margin]
        if not drops:
            continue
        _drop, name = max(drops, key=lambda d: d[0])  # ties: the metric asked for first
        r = by_index[it.index]
        found.append(Regression(
            index=it.index, metric=name, tuned=t_scores[name], baseline=b_scores[name],
            line=it.line, prompt=r.prompt, reference=r.reference,
            tuned_answer=r.tuned_answer or "", baseline_answer=r.baseline_answer or ""))
    found.sort(key=lambda g: (g.tuned - g.baseline, g.index))
    return found


def _forgetting(general: list[EvalItem], tuned_out: list[Outcome], base_out: list[Outcome],
                seed: int, source: Any) -> Forgetting | None:
    if not general:
        return None
    t_vals: list[float] = []
    b_vals: list[float] = []
    failed = 0
    for it in general:
        t, b = tuned_out[it.index], base_out[it.index]
        if t.response is None or b.response is None:
            failed += 1
            continue
        t_vals.append(contains(_reply(t), it.reference))
        b_vals.append(contains(_reply(b), it.reference))
    diff = bootstrap_mean([x - y for x, y in zip(t_vals, b_vals, strict=True)], seed=seed)
    t_mean = math.fsum(t_vals) / len(t_vals) if t_vals else math.nan
    b_mean = math.fsum(b_vals) / len(b_vals) if b_vals else math.nan
    return Forgetting(examples=len(general), tuned=t_mean, baseline=b_mean,
                      fell_below=bool(t_vals) and diff.high < 0, metric="contains",
                      diff_ci_low=diff.low, diff_ci_high=diff.high, failed=failed,
                      source=str(source) if isinstance(source, str | Path) else "")
