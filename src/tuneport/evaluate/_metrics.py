"""Per-example metrics: a model's reply against the held-out reference, scored in [0, 1].

Where a well-kept library defines the metric it does the scoring: ROUGE-L from Google's
``rouge-score``, chrF from ``sacrebleu``, JSON Schema from ``jsonschema`` (the ``eval``
extra). The others are a few lines whose definition is the docstring.

Metrics are named (``"token_f1"``); those that need an argument take it after a colon
(``"regex:^\\d+$"``, ``"json_schema:schema.json"``), or are built in Python
(:func:`regex`, :func:`json_schema`). ``judge`` is pairwise and lives in :mod:`._judge`.
"""

from __future__ import annotations

import contextlib
import json
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneport._exceptions import ConfigError

__all__ = [
    "METRIC_NAMES",
    "Metric",
    "Reference",
    "Reply",
    "default_metric_names",
    "json_schema",
    "parse_json_reply",
    "regex",
    "resolve_metrics",
]

JUDGE = "judge"


@dataclass(frozen=True)
class Reply:
    """What a model answered: its text and, when it called tools, the calls."""

    text: str
    tool_calls: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Reference:
    """The held-out example's expected assistant reply."""

    text: str
    tool_calls: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Metric:
    """A named per-example score in [0, 1] (higher is better).

    Attributes:
        name: the key in reports (``rouge_l``).
        score: ``(reply, reference) -> float``.
        pairwise: True for the judge, which scores both models at once.
    """

    name: str
    score: Callable[[Reply, Reference], float] = field(repr=False)
    pairwise: bool = False


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _tokens(text: str) -> list[str]:
    # SQuAD's answer normalization: lower case, no punctuation, no articles.
    lowered = text.lower().translate(str.maketrans("", "", string.punctuation))
    return [t for t in lowered.split() if t not in ("a", "an", "the")]


def exact_match(reply: Reply, ref: Reference) -> float:
    """1 when the reply equals the reference (whitespace runs collapsed), else 0."""
    return float(_normalize(reply.text) == _normalize(ref.text))


def contains(reply: Reply, ref: Reference) -> float:
    """1 when the reference appears in the reply (case and spacing ignored), else 0."""
    return float(_normalize(ref.text).lower() in _normalize(reply.text).lower())


def token_f1(reply: Reply, ref: Reference) -> float:
    """SQuAD's token F1: the harmonic mean of token precision and recall."""
    got, want = _tokens(reply.text), _tokens(ref.text)
    if not got or not want:
        return float(got == want)
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


_ROUGE: list[Any] = []


def rouge_l(reply: Reply, ref: Reference) -> float:
    """ROUGE-L F-measure (longest common subsequence), by Google's ``rouge-score``."""
    if not _ROUGE:
        rouge_scorer = _need("rouge_score.rouge_scorer", "rouge-score", "rouge_l")
        _ROUGE.append(rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False))
    return float(_ROUGE[0].score(ref.text, reply.text)["rougeL"].fmeasure)


def chrf(reply: Reply, ref: Reference) -> float:
    """chrF (character n-gram F-score) by ``sacrebleu``, scaled from 0-100 to 0-1."""
    sacrebleu = _need("sacrebleu", "sacrebleu", "chrf")
    return float(sacrebleu.sentence_chrf(reply.text, [ref.text]).score) / 100.0


_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*)\n```\s*$", re.DOTALL)


def parse_json_reply(text: str) -> tuple[bool, Any]:
    """``(ok, value)``: the reply parsed as JSON (a Markdown code fence around it allowed)."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        return True, json.loads(stripped)
    except ValueError:
        return False, None


def json_valid(reply: Reply, ref: Reference) -> float:
    """1 when the reply is valid JSON (optionally inside a code fence), else 0."""
    return float(parse_json_reply(reply.text)[0])


def _schema_of(value: Any) -> dict[str, Any]:
    """A JSON Schema that the reference value satisfies: the same types, the same keys."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int | float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if value is None:
        return {"type": "null"}
    if isinstance(value, list):
        return {"type": "array", **({"items": _schema_of(value[0])} if value else {})}
    props = {str(k): _schema_of(v) for k, v in value.items()}
    return {"type": "object", "properties": props, "required": sorted(props)}


def json_schema(schema: dict[str, Any] | str | Path | None = None) -> Metric:
    """A ``json_schema`` metric: 1 when the reply is JSON that validates, else 0.

    Args:
        schema: the JSON Schema (a dict or a path to a ``.json`` file). Without one, each
            example's schema is read off its reference: the same value types and the
            same (required) object keys.
    """
    jsonschema = _need("jsonschema", "jsonschema", "json_schema")
    given: dict[str, Any] | None
    if isinstance(schema, str | Path):
        try:
            given = json.loads(Path(schema).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"json_schema: cannot read the schema file {schema}: {exc}") from exc
    else:
        given = schema
    if given is not None:
        try:
            jsonschema.validators.validator_for(given).check_schema(given)
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"json_schema: the schema is not valid: {exc.message}") from exc

    def score(reply: Reply, ref: Reference) -> float:
        ok, value = parse_json_reply(reply.text)
        if not ok:
            return 0.0
        target = given
        if target is None:
            ref_ok, ref_value = parse_json_reply(ref.text)
            if not ref_ok:
                return 0.0
            target = _schema_of(ref_value)
        return float(jsonschema.validators.validator_for(target)(target).is_valid(value))

    return Metric("json_schema", score)


def regex(pattern: str) -> Metric:
    """A ``regex`` metric: 1 when the pattern is found in the reply (``re.search``), else 0."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"regex: {pattern!r} is not a valid regular expression ({exc}).") from exc
    return Metric("regex", lambda reply, _ref: float(compiled.search(reply.text) is not None))


def _call_key(call: dict[str, Any]) -> tuple[str, Any]:
    fn = call.get("function") or {}
    args = fn.get("arguments")
    if isinstance(args, str):
        with contextlib.suppress(ValueError):  # else compared as the raw text
            args = json.loads(args)
    return str(fn.get("name")), args


def tool_call_match(reply: Reply, ref: Reference) -> float:
    """Tool calls compared in order: each matching call scores 1 when name and arguments
    (parsed JSON) agree, 0.5 when only the name does; divided by the longer list's length.

    With no expected call, 1 when the reply calls nothing, else 0.
    """
    got = [_call_key(c) for c in reply.tool_calls]
    want = [_call_key(c) for c in ref.tool_calls]
    if not want:
        return float(not got)
    total = 0.0
    for (g_name, g_args), (w_name, w_args) in zip(got, want, strict=False):
        if g_name == w_name:
            total += 1.0 if g_args == w_args else 0.5
    return total / max(len(got), len(want))


def _need(module: str, package: str, metric: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"The {metric} metric needs {package}: "
                          "pip install 'tuneport[eval]'") from exc


def _judge_placeholder(_reply: Reply, _ref: Reference) -> float:
    raise AssertionError("the judge scores pairs; the runner calls it")  # pragma: no cover


_SIMPLE: dict[str, Callable[[Reply, Reference], float]] = {
    "exact_match": exact_match,
    "contains": contains,
    "token_f1": token_f1,
    "rouge_l": rouge_l,
    "chrf": chrf,
    "json_valid": json_valid,
    "tool_call_match": tool_call_match,
}

#: Every metric name :func:`resolve_metrics` knows.
METRIC_NAMES: tuple[str, ...] = (*_SIMPLE, "json_schema", "regex", JUDGE)


def default_metric_names(references: Sequence[Reference]) -> list[str]:
    """The metrics the data calls for: tool calls → ``tool_call_match``; JSON replies →
    ``json_valid``; otherwise ``token_f1`` and ``rouge_l``."""
    if any(r.tool_calls for r in references):
        return ["tool_call_match"]
    texts = [r.text for r in references if r.text.strip()]
    if texts and all(parse_json_reply(t)[0] and t.strip()[:1] in "{[`" for t in texts):
        return ["json_valid"]
    return ["token_f1", "rouge_l"]


def resolve_metrics(specs: Sequence[str | Metric] | None,
                    references: Sequence[Reference]) -> list[Metric]:
    """Metric objects for names (``"rouge_l"``, ``"regex:PATTERN"``) or ready metrics.

    Raises:
        ConfigError: an unknown name (with the known ones), or a metric without its argument.
    """
    chosen = list(specs) if specs else list(default_metric_names(references))
    out: list[Metric] = []
    for spec in chosen:
        if isinstance(spec, Metric):
            out.append(spec)
            continue
        name, _, arg = spec.partition(":")
        name = name.strip()
        if name in _SIMPLE and not arg:
            out.append(Metric(name, _SIMPLE[name]))
        elif name == "regex":
            if not arg:
                raise ConfigError("The regex metric needs a pattern: metrics=['regex:^\\d+$'] "
                                  "(CLI: --metric 'regex:^\\d+$').")
            out.append(regex(arg))
        elif name == "json_schema":
            out.append(json_schema(arg or None))
        elif name == JUDGE and not arg:
            out.append(Metric(JUDGE, _judge_placeholder, pairwise=True))
        else:
            import difflib

            near = difflib.get_close_matches(name, METRIC_NAMES, n=2)
            hint = f" Did you mean: {', '.join(near)}?" if near else ""
            raise ConfigError(f"Unknown metric {spec!r}.{hint} Known metrics: "
                              f"{', '.join(METRIC_NAMES)}.")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"A metric is named twice in {names}; give each once.")
    return out
