"""The streaming validator: one JSON parse per line, all rules, token counts, one pass.

Records are checked in the main thread; the strings to tokenize are gathered per chunk and
tokenized in a worker thread (tiktoken and ``tokenizers`` release the GIL), so parsing of
chunk k+1 overlaps tokenization of chunk k. Strings seen before (system prompts, tool
definitions) are counted once. At most two chunks are held, whatever the file size.
"""

from __future__ import annotations

import json
import os
from array import array
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tuneport._exceptions import UnknownModelError
from tuneport.dataset._checks import RecordChecker, detect_format
from tuneport.dataset._readers import Source
from tuneport.dataset._report import (
    DEFAULT_MAX_ISSUES_PER_CODE,
    BilledEstimate,
    IssueCollector,
    TokenStats,
    ValidationReport,
)
from tuneport.dataset._targets import TargetRules, check_targets, rules_for
from tuneport.dataset._tokens import ApproxCounter, Counter, ExactCounter, counter_for

__all__ = ["resolve_rules", "run"]

CHUNK_EXAMPLES = 2048
TOKENIZER_THREADS = max(1, min(4, os.cpu_count() or 1))
CACHE_MAX_ENTRIES = 50_000
CACHE_MAX_CHARS = 256  # long strings rarely repeat; caching them would cost memory

_loads = json.loads


def resolve_rules(targets: tuple[str, ...] | list[str],
                  model: str | None) -> dict[str, TargetRules]:
    """Rules per target; ``model`` applies to each target that knows it.

    Raises:
        UnknownProviderError: a target name is unknown.
        UnknownModelError: ``model`` is known to none of the chosen hosted targets (and is
            not a local model path when ``local`` is chosen).
    """
    names = check_targets(targets)
    rules: dict[str, TargetRules] = {}
    failures: list[UnknownModelError] = []
    for t in names:
        if model is None:
            rules[t] = rules_for(t)
            continue
        try:
            rules[t] = rules_for(t, model)
        except UnknownModelError as exc:
            failures.append(exc)
            rules[t] = rules_for(t)
    hosted = [t for t in names if t != "local"]
    # "local" takes any model folder, GGUF file or Hugging Face id ("org/name"); a bare name
    # that no hosted catalog lists is far more likely a typo than a local model.
    local_ok = "local" in names and (
        rules["local"].tokenizer.startswith(("path:", "gguf:"))
        or rules["local"].model_known or "/" in (model or "")
    )
    if model is not None and hosted and len(failures) == len(hosted) and not local_ok:
        suggestions = list(dict.fromkeys(s for f in failures for s in f.suggestions))
        raise UnknownModelError(
            f"No target among {', '.join(hosted)} lists the model {model!r}.", suggestions
        )
    return rules


@dataclass(slots=True)
class _Tally:
    """Token statistics of one target, built example by example."""

    rules: TargetRules
    counter: Counter
    keep: bool
    stats: TokenStats = field(init=False)
    billed: int = 0

    def __post_init__(self) -> None:
        r = self.rules
        self.stats = TokenStats(
            target=r.target, model=r.model, tokenizer=self.counter.label,
            exact=self.counter.exact, limit=r.max_tokens_per_example,
        )
        if self.keep:
            self.stats.per_example = array("I")
            if not self.counter.exact:
                self.stats.per_example_low = array("I")
                self.stats.per_example_high = array("I")


class _ExactGroup:
    """The targets sharing one exact tokenizer, with its string cache."""

    def __init__(self, counter: ExactCounter, tallies: list[_Tally]) -> None:
        self.counter = counter
        self.tallies = tallies
        self.cache: dict[str, int] = {}

    def submit(self, pool: ThreadPoolExecutor,
               texts: list[str]) -> tuple[list[int], list[str], list[Future[list[int]]]]:
        cache = self.cache
        slots: list[int] = []
        uniq: dict[str, int] = {}
        for t in texts:
            n = cache.get(t)
            if n is None:
                k = uniq.get(t)
                if k is None:
                    k = uniq[t] = len(uniq)
                slots.append(-k - 1)
            else:
                slots.append(n)
        todo = list(uniq)
        # Split across the workers: the tokenizers release the GIL, so parts run in parallel.
        step = -(-len(todo) // TOKENIZER_THREADS) or 1
        parts = [pool.submit(self.counter.lengths, todo[i:i + step])
                 for i in range(0, len(todo), step)]
        return slots, todo, parts

    def resolve(self, slots: list[int], todo: list[str],
                parts: list[Future[list[int]]]) -> list[int]:
        lens = [n for part in parts for n in part.result()]
        cache = self.cache
        if len(cache) < CACHE_MAX_ENTRIES:
            for t, n in zip(todo, lens, strict=True):
                if len(t) <= CACHE_MAX_CHARS:
                    cache[t] = n
        return [n if n >= 0 else lens[-n - 1] for n in slots]


@dataclass(slots=True)
class _Chunk:
    lines: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # end index of each example's texts
    fixed: list[list[int]] = field(default_factory=list)  # per exact group: overhead tokens
    approx_fixed: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


class _Engine:
    def __init__(self, rules: dict[str, TargetRules], collector: IssueCollector,
                 keep_per_example: bool, count: bool) -> None:
        self.rules = rules
        self.collector = collector
        self.count = count
        self.groups: list[_ExactGroup] = []
        self.approx: list[_Tally] = []
        self.tallies: dict[str, _Tally] = {}
        if count:
            by_label: dict[str, _ExactGroup] = {}
            for t, r in rules.items():
                counter = counter_for(r.tokenizer)
                tally = _Tally(r, counter, keep_per_example)
                self.tallies[t] = tally
                if isinstance(counter, ApproxCounter):
                    self.approx.append(tally)
                else:
                    group = by_label.get(counter.label)
                    if group is None:
                        group = by_label[counter.label] = _ExactGroup(counter, [])
                        self.groups.append(group)
                    group.tallies.append(tally)
        self.pool = (ThreadPoolExecutor(max_workers=TOKENIZER_THREADS, thread_name_prefix="tokens")
                     if self.groups else None)
        self.chunk = self._new_chunk()
        self.pending: tuple[_Chunk, list[Any]] | None = None

    def _new_chunk(self) -> _Chunk:
        return _Chunk(fixed=[[] for _ in self.groups])

    def add_example(self, line: int, n_messages: int, names: int, roles: list[str],
                    texts_end: int) -> None:
        c = self.chunk
        c.lines.append(line)
        c.ends.append(texts_end)
        for g, fixed in zip(self.groups, c.fixed, strict=True):
            k = g.counter
            n = k.per_example + n_messages * k.per_message + names * k.per_name
            if k.count_roles:
                cache = k._role_cache
                for role in roles:
                    r = cache.get(role)
                    n += r if r is not None else k.role_len(role)
            fixed.append(n)
        if self.approx:
            c.approx_fixed.append(APPROX.per_example + n_messages * APPROX.per_message + names)
        if len(c.lines) >= CHUNK_EXAMPLES:
            self.flush()

    def flush(self) -> None:
        chunk, self.chunk = self.chunk, self._new_chunk()
        submitted = [g.submit(self.pool, chunk.texts) for g in self.groups] if self.pool else []
        if self.pending is not None:
            self._finish(*self.pending)
        self.pending = (chunk, submitted)

    def close(self) -> None:
        self.flush()
        if self.pending is not None:
            self._finish(*self.pending)
            self.pending = None
        if self.pool is not None:
            self.pool.shutdown()

    def _finish(self, chunk: _Chunk, submitted: list[Any]) -> None:
        if not chunk.lines:
            return
        texts = chunk.texts
        for g, fixed, (slots, todo, parts) in zip(self.groups, chunk.fixed, submitted,
                                                   strict=True):
            lens = g.resolve(slots, todo, parts)
            start = 0
            for line, end, base in zip(chunk.lines, chunk.ends, fixed, strict=True):
                n = base + sum(lens[start:end])
                start = end
                for tally in g.tallies:
                    self._record(tally, line, n, n, n)
        if self.approx:
            estimate = ApproxCounter.estimate
            start = 0
            for line, end, base in zip(chunk.lines, chunk.ends, chunk.approx_fixed,
                                       strict=True):
                whole = "".join(texts[start:end])
                start = end
                c = len(whole)
                if whole.isascii():
                    ascii_chars, other = float(c), 0.0
                else:
                    # Non-ASCII characters take 2-4 UTF-8 bytes: ~1.5 extra bytes each.
                    other = min(c, (len(whole.encode("utf-8", "surrogatepass")) - c) / 1.5)
                    ascii_chars = c - other
                low, mid, high = estimate(ascii_chars, other)
                for tally in self.approx:
                    self._record(tally, line, base + mid, base + low, base + high)

    def _record(self, tally: _Tally, line: int, n: int, low: int, high: int) -> None:
        s = tally.stats
        s.examples += 1
        s.total += n
        s.total_low += low
        s.total_high += high
        if n > s.max:
            s.max = n
        limit = s.limit
        if limit is not None:
            tally.billed += n if n < limit else limit
            if low > limit:
                s.over_limit += 1
                who = tally.rules.model or tally.rules.target
                amount = f"{n} tokens" if s.exact else f"at least {low} tokens (estimated)"
                self.collector.add(
                    line, "too_many_tokens",
                    f"The example has {amount}; {who} takes at most {limit} per example and "
                    "cuts the rest. Shorten it or split it into several examples.",
                    (tally.rules.target,),
                )
        else:
            tally.billed += n
        if s.per_example is not None:
            s.per_example.append(min(n, 0xFFFFFFFF))
            if s.per_example_low is not None and s.per_example_high is not None:
                s.per_example_low.append(min(low, 0xFFFFFFFF))
                s.per_example_high.append(min(high, 0xFFFFFFFF))


APPROX = ApproxCounter()


def run(source: Source, targets: tuple[str, ...] | list[str], model: str | None = None, *,
        max_issues_per_code: int = DEFAULT_MAX_ISSUES_PER_CODE, count: bool = True,
        keep_per_example: bool = False,
        rules: dict[str, TargetRules] | None = None) -> ValidationReport:
    """Validate ``source`` for ``targets`` in one streaming pass."""
    if rules is None:
        rules = resolve_rules(targets, model)
    collector = IssueCollector(max_issues_per_code)
    add = collector.add
    everyone = tuple(rules)
    checker = RecordChecker(rules, add)
    engine = _Engine(rules, collector, keep_per_example, count)
    file_format: str | None = None
    mixed = False
    examples = lines = n_bytes = 0
    check = checker.check
    add_example = engine.add_example
    try:
        for line, item in source:
            lines = line
            if type(item) is bytes:
                n_bytes += len(item)
                try:
                    obj = _loads(item)
                except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                    _bad_line(add, line, item, exc, everyone)
                    continue
            else:
                obj = item
            if type(obj) is not dict:
                if not isinstance(obj, dict):
                    add(line, "not_an_object", "Each line must be a JSON object such as "
                        '{"messages": [...]}; this one is ' f"a {_json_type(obj)}.", everyone)
                    continue
                obj = dict(obj)
            fmt = detect_format(obj)
            if fmt is None:
                keys = ", ".join(sorted(map(str, obj))[:5]) or "no keys"
                add(line, "unknown_format", f"The object ({keys}) matches no format: use "
                    "'messages', 'prompt'+'completion', 'text', or 'input'+'preferred_output'+"
                    "'non_preferred_output'.", everyone)
                continue
            if file_format is None:
                file_format = fmt
            elif fmt != file_format:
                mixed = True
                add(line, "mixed_formats", f"This line is {fmt} but the file started as "
                    f"{file_format}; one file must use one format. Move it to another file.",
                    everyone)
                continue
            texts = engine.chunk.texts
            start = len(texts)
            n = check(obj, fmt, line, texts)
            if n < 0:
                del texts[start:]
                continue
            examples += 1
            if engine.count:
                add_example(line, n, checker.names, checker.roles, len(texts))
            else:
                del texts[start:]
    finally:
        engine.close()
    _file_rules(add, rules, file_format, examples, n_bytes)
    tokens = {}
    for t, tally in engine.tallies.items():
        s = tally.stats
        epochs = tally.rules.epochs_for(examples)
        s.billed_estimate = BilledEstimate(epochs, epochs * tally.billed)
        tokens[t] = s
    return ValidationReport(
        format="mixed" if mixed else (file_format or "unknown"),
        examples=examples,
        issues=collector.issues(),
        issue_counts=dict(collector.counts),
        tokens=tokens,
        targets=everyone,
        lines=lines,
        n_bytes=n_bytes,
        errors_by_target=dict(collector.errors_by_target),
    )


def _json_type(obj: Any) -> str:
    if isinstance(obj, list):
        return "list"
    if isinstance(obj, str):
        return "string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "boolean"
    if isinstance(obj, (int, float)):
        return "number"
    return type(obj).__name__


def _bad_line(add: Any, line: int, raw: bytes, exc: ValueError,
              everyone: tuple[str, ...]) -> None:
    if isinstance(exc, UnicodeDecodeError):
        add(line, "invalid_utf8", f"The line is not valid UTF-8 (byte {exc.start}); save the "
            "file as UTF-8.", everyone)
    elif not raw.strip():
        add(line, "blank_line", "Blank line; it is skipped. Remove it: some providers reject "
            "files with blank lines.", everyone)
    else:
        add(line, "invalid_json", f"Invalid JSON: {exc}. Each line must hold one complete JSON "
            "object.", everyone)


def _file_rules(add: Any, rules: dict[str, TargetRules], fmt: str | None, examples: int,
                n_bytes: int) -> None:
    everyone = tuple(rules)
    if examples == 0:
        add(0, "empty_dataset", "No usable example in the dataset; fix the errors above or "
            "check that this is the right file.", everyone)
        return
    if fmt is not None:
        refusing = tuple(t for t, r in rules.items() if fmt not in r.formats)
        for t in refusing:
            ok = ", ".join(sorted(rules[t].formats))
            add(0, "unsupported_format", f"{t} does not train on the {fmt} format; it takes "
                f"{ok}. Convert the file or choose another target.", (t,))
    for t, r in rules.items():
        if examples < r.min_examples:
            add(0, "too_few_examples", f"{examples} examples; {t} needs at least "
                f"{r.min_examples}. Add examples.", (t,))
        if r.max_examples is not None and examples > r.max_examples:
            add(0, "too_many_examples", f"{examples} examples; {t} takes at most "
                f"{r.max_examples}. Split the dataset.", (t,))
        if r.max_file_bytes is not None and n_bytes > r.max_file_bytes:
            add(0, "file_too_large", f"The file is {n_bytes} bytes; {t} takes at most "
                f"{r.max_file_bytes}. Split it or remove long examples.", (t,))
