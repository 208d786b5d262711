"""The streaming validator: one JSON parse per line, all rules, token counts, one pass.

Records are checked and their strings gathered per chunk of examples. Strings seen before
(roles, system prompts, tool definitions) are counted once; tiktoken counts come from a
cache of space-led segments (``_tokens.SegmentCounter``) in this thread, other tokenizers
run on worker threads (they release the GIL) so parsing of chunk k+1 overlaps tokenizing
chunk k. At most two chunks are held, whatever the file size. A large JSONL file is split
into byte ranges scanned by several processes (``_parallel``) and the partial results are
merged exactly (:func:`merge`).
"""

from __future__ import annotations

import json
import math
import os
import re
from array import array
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from typing import Any

from tuneport._exceptions import UnknownModelError
from tuneport.dataset._checks import RecordChecker, detect_format
from tuneport.dataset._lines import MAX_LINE_BYTES, BlankRun, LongLine, Unreadable
from tuneport.dataset._readers import JsonlSource, Source
from tuneport.dataset._report import (
    DEFAULT_MAX_ISSUES_PER_CODE,
    BilledEstimate,
    Issue,
    IssueCollector,
    TokenStats,
    ValidationReport,
)
from tuneport.dataset._targets import TargetRules, check_targets, rules_for
from tuneport.dataset._tokens import ApproxCounter, Counter, ExactCounter, counter_for

__all__ = ["Partial", "finish", "merge", "resolve_rules", "run", "scan"]

CHUNK_EXAMPLES = 2048
TOKENIZER_THREADS = max(1, min(4, os.cpu_count() or 1))
CACHE_MAX_ENTRIES = 50_000
CACHE_MAX_CHARS = 256  # long strings rarely repeat; caching them would cost memory

_decode = json.JSONDecoder().decode


def _loads(raw: bytes) -> Any:
    """``json.loads(raw)``, minus its encoding detection on the usual line.

    ``json.loads`` on bytes looks for a BOM or NUL bytes (UTF-16/32), then decodes with
    ``surrogatepass``; a line that starts with ``{`` and a non-NUL byte is UTF-8 for it, so
    decoding here gives the same objects and the same errors. (orjson would parse ~3x
    faster but turns integers beyond 64 bits into floats, which changes messages and the
    token counts of tool JSON; ruling those out per line costs what it saves.)
    """
    if raw[:1] == b"{" and raw[1:2] != b"\x00":
        return _decode(raw.decode("utf-8", "surrogatepass"))
    return json.loads(raw)


# A JSON escape of a UTF-16 surrogate, or a surrogate's own (invalid) UTF-8 bytes that the
# surrogatepass decoding lets through, or the NaN/Infinity that json.loads accepts: only
# such lines can hold a value that cannot be uploaded as JSON.
_UPLOAD_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]|NaN|Infinity")


def upload_problem(obj: Any) -> tuple[str, str] | None:
    """``(code, what)`` for the first value of ``obj`` that cannot be uploaded as JSON.

    ``unencodable_text``: a string with a lone surrogate (not encodable as UTF-8).
    ``wrong_type``: NaN or an infinity (not JSON, though Python's json reads and writes
    them), a non-string key, or a Python value JSON has no type for (bytes, a set...).

    Raises:
        RecursionError: ``obj`` is nested deeper than Python's recursion limit allows.
    """
    if isinstance(obj, str):
        if obj.isascii():
            return None
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return "unencodable_text", "a lone UTF-16 surrogate"
        return None
    if obj is None or isinstance(obj, bool | int):
        return None
    if isinstance(obj, float):
        return None if math.isfinite(obj) else ("wrong_type", f"the number {obj!r}")
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str):
                return "wrong_type", f"a key of type {type(k).__name__}"
            found = upload_problem(k) or upload_problem(v)
            if found is not None:
                return found
        return None
    if isinstance(obj, list | tuple):
        for v in obj:
            found = upload_problem(v)
            if found is not None:
                return found
        return None
    return "wrong_type", f"a value of Python type {type(obj).__name__}"


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

    def submit(self, pool: ThreadPoolExecutor | None, texts: list[str],
               ) -> tuple[list[int] | None, list[str], list[Future[list[int]]]]:
        if pool is None or not self.counter.releases_gil:
            # Python-level counting (tiktoken's segment cache) holds the GIL: threads would
            # only add switching, so count here; its own cache makes a string cache moot.
            done: Future[list[int]] = Future()
            done.set_result(self.counter.lengths(texts))
            return None, texts, [done]
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

    def resolve(self, slots: list[int] | None, todo: list[str],
                parts: list[Future[list[int]]]) -> list[int]:
        lens = [n for part in parts for n in part.result()]
        if slots is None:  # counted in place, one length per text
            return lens
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
    # Preference pairs: their last two texts are the two replies. The model reads each side
    # (prompt + one reply) as one sequence, so a pair's length limit applies per side.
    pairs: list[bool] = field(default_factory=list)


class _Engine:
    def __init__(self, rules: dict[str, TargetRules], collector: IssueCollector,
                 keep_per_example: bool, count: bool) -> None:
        self.rules = rules
        self.collector = collector
        self.count = count
        self.order = {t: i for i, t in enumerate(rules)}
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
        threaded = any(g.counter.releases_gil for g in self.groups)
        self.pool = (ThreadPoolExecutor(max_workers=TOKENIZER_THREADS, thread_name_prefix="tokens")
                     if threaded else None)
        self.chunk = self._new_chunk()
        self.pending: tuple[_Chunk, list[Any]] | None = None

    def _new_chunk(self) -> _Chunk:
        return _Chunk(fixed=[[] for _ in self.groups])

    def add_example(self, line: int, n_messages: int, names: int, roles: list[str],
                    texts_end: int, pair: bool = False) -> None:
        c = self.chunk
        c.lines.append(line)
        c.ends.append(texts_end)
        c.pairs.append(pair)
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
        submitted = [g.submit(self.pool, chunk.texts) for g in self.groups]
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
        # (tally, counts, low bounds, high bounds) per target, one entry per example.
        columns: list[tuple[_Tally, list[int], list[int], list[int]]] = []
        sides_of: dict[int, list[int]] = {}  # per exact tally: each pair's longer side
        for g, fixed, (slots, todo, parts) in zip(self.groups, chunk.fixed, submitted,
                                                   strict=True):
            lens = g.resolve(slots, todo, parts)
            ns: list[int] = []
            start = 0
            for end, base in zip(chunk.ends, fixed, strict=True):
                ns.append(base + sum(lens[start:end]))
                start = end
            if any(chunk.pairs):
                # The longer side of a pair: all but the shorter reply (and its message).
                sides = [n - min(lens[end - 2], lens[end - 1]) - g.counter.per_message
                         if pair else n
                         for n, end, pair in zip(ns, chunk.ends, chunk.pairs, strict=True)]
                sides_of.update({id(tally): sides for tally in g.tallies})
            columns.extend((tally, ns, ns, ns) for tally in g.tallies)
        if self.approx:
            estimate = ApproxCounter.estimate
            mids: list[int] = []
            lows: list[int] = []
            highs: list[int] = []
            start = 0
            for end, base in zip(chunk.ends, chunk.approx_fixed, strict=True):
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
                mids.append(base + mid)
                lows.append(base + low)
                highs.append(base + high)
            columns.extend((tally, mids, lows, highs) for tally in self.approx)
        over: list[tuple[int, int, int, int, _Tally]] = []
        for tally, ns, lows, highs in columns:
            self._record(tally, chunk.lines, ns, lows, highs, over, sides_of.get(id(tally)))
        # Issues in line order (then target order), as if each example were finished alone:
        # the first N kept per code must not depend on where chunks or byte ranges end.
        over.sort(key=lambda x: (x[0], x[1]))
        for line, _order, n, low, tally in over:
            s = tally.stats
            who = tally.rules.model or tally.rules.target
            amount = f"{n} tokens" if s.exact else f"at least {low} tokens (estimated)"
            if s.exact and low != n:  # a preference pair: its longer side is over
                self.collector.add(
                    line, "preference_too_long",
                    f"The pair's longer side (prompt + one reply) has {low} tokens; {who} "
                    f"takes at most {s.limit} per sequence and cuts the rest. Shorten the "
                    "prompt or the longer reply.", (tally.rules.target,))
                continue
            self.collector.add(
                line, "too_many_tokens",
                f"The example has {amount}; {who} takes at most {s.limit} per example and "
                "cuts the rest. Shorten it or split it into several examples.",
                (tally.rules.target,),
            )

    def _record(self, tally: _Tally, lines: list[int], ns: list[int], lows: list[int],
                highs: list[int], over: list[tuple[int, int, int, int, _Tally]],
                sides: list[int] | None = None) -> None:
        """Add one chunk's counts to a target's statistics; note the examples over limit.

        ``sides``: what the limit applies to when it is not the whole example (the longer
        side of each preference pair).
        """
        s = tally.stats
        s.examples += len(ns)
        s.total += sum(ns)
        s.total_low += sum(lows)
        s.total_high += sum(highs)
        s.max = max(s.max, max(ns))
        limit = s.limit
        if limit is None:
            tally.billed += sum(ns)
        else:
            tally.billed += sum(map(min, ns, repeat(limit)))
            basis = sides if sides is not None else lows
            if max(basis) > limit:
                order = self.order[tally.rules.target]
                for line, n, low in zip(lines, ns, basis, strict=True):
                    if low > limit:
                        s.over_limit += 1
                        over.append((line, order, n, low, tally))
        if s.per_example is not None:
            s.per_example.extend(min(n, 0xFFFFFFFF) for n in ns)
            if s.per_example_low is not None and s.per_example_high is not None:
                s.per_example_low.extend(min(n, 0xFFFFFFFF) for n in lows)
                s.per_example_high.extend(min(n, 0xFFFFFFFF) for n in highs)


APPROX = ApproxCounter()


@dataclass(slots=True)
class Partial:
    """What one pass over some records found: the pieces a report is made of.

    A whole source gives one; the byte ranges of a file scanned by several processes give
    one each, merged in file order by :func:`merge` (line numbers local to each range).
    """

    examples: int = 0
    lines: int = 0
    n_bytes: int = 0
    file_format: str | None = None
    mixed: bool = False
    kept: dict[str, list[Issue]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    errors_by_target: dict[str, int] = field(default_factory=dict)
    stats: dict[str, TokenStats] = field(default_factory=dict)
    billed: dict[str, int] = field(default_factory=dict)


def scan(items: Iterable[tuple[int, Any]], rules: dict[str, TargetRules], *,
         max_issues_per_code: int = DEFAULT_MAX_ISSUES_PER_CODE, count: bool = True,
         keep_per_example: bool = False, file_format: str | None = None) -> Partial:
    """Check and count ``(line, raw bytes or object)`` items in one streaming pass.

    Args:
        file_format: the file's format when already known (a later byte range of a file);
            None: the first usable record sets it.
    """
    collector = IssueCollector(max_issues_per_code)
    add = collector.add
    everyone = tuple(rules)
    checker = RecordChecker(rules, add)
    engine = _Engine(rules, collector, keep_per_example, count)
    mixed = False
    examples = lines = n_bytes = 0
    check = checker.check
    add_example = engine.add_example
    try:
        for line, item in items:
            lines = line
            if type(item) is bytes:
                n_bytes += len(item)
                if b"\x00" in item:
                    add(line, "nul_byte", "The line holds NUL bytes: the file may be UTF-16 or "
                        "binary. Save it as UTF-8 JSONL.", everyone)
                    continue
                suspect = _UPLOAD_HINT.search(item) is not None
                try:
                    obj = _loads(item)
                except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                    _bad_line(add, line, item, exc, everyone)
                    continue
                except RecursionError:
                    _too_deep(add, line, everyone)
                    continue
                # The raw line is parsed: let a long one go before its strings are counted
                # (memory stays a small multiple of the longest line).
                item = None
                if suspect and _not_uploadable(add, line, obj, everyone):
                    continue
            elif type(item) is BlankRun:
                lines = line + item.count - 1
                n_bytes += item.count
                collector.add_run(line, item.count, "blank_line", "Blank line; it is skipped. "
                                  "Remove it: some providers reject files with blank lines.",
                                  everyone)
                continue
            elif type(item) is LongLine:
                n_bytes += item.size
                add(line, "line_too_long", f"The line is {item.size:,} bytes; tuneport reads "
                    f"lines of at most {MAX_LINE_BYTES:,} bytes and no provider trains on an "
                    "example this long. Shorten or remove it.", everyone)
                continue
            elif type(item) is Unreadable:
                add(line, "corrupt_compression", f"Cannot read past this line: {item.message}. "
                    "Compress the file again (gzip) or give the plain .jsonl.", everyone)
                continue
            else:
                obj = item
                try:
                    if _not_uploadable(add, line, obj, everyone):
                        continue
                except RecursionError:
                    _too_deep(add, line, everyone)
                    continue
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
            try:
                n = check(obj, fmt, line, texts)
            except RecursionError:
                del texts[start:]
                _too_deep(add, line, everyone)
                continue
            if n < 0:
                del texts[start:]
                continue
            examples += 1
            if engine.count:
                add_example(line, n, checker.names, checker.roles, len(texts),
                            fmt == "preference")
            else:
                del texts[start:]
    finally:
        engine.close()
    return Partial(
        examples=examples, lines=lines, n_bytes=n_bytes, file_format=file_format,
        mixed=mixed, kept=collector.kept, counts=dict(collector.counts),
        errors_by_target=dict(collector.errors_by_target),
        stats={t: tally.stats for t, tally in engine.tallies.items()},
        billed={t: tally.billed for t, tally in engine.tallies.items()},
    )


def merge(parts: list[Partial], max_issues_per_code: int) -> Partial:
    """Merge the partials of consecutive byte ranges, in file order, into one.

    The result is what one pass over the whole file gives: line numbers shifted by the lines
    of the ranges before, the first ``max_issues_per_code`` issues of each code in line
    order, exact counts and token statistics, per-example counts concatenated.
    """
    out = Partial()
    for part in parts:
        offset = out.lines
        for code, issues in part.kept.items():
            bucket = out.kept.setdefault(code, [])
            room = max_issues_per_code - len(bucket)
            if room > 0:
                bucket.extend(replace(i, line=i.line + offset) for i in issues[:room])
        for code, n in part.counts.items():
            out.counts[code] = out.counts.get(code, 0) + n
        for t, n in part.errors_by_target.items():
            out.errors_by_target[t] = out.errors_by_target.get(t, 0) + n
        for t, s in part.stats.items():
            merged = out.stats.get(t)
            if merged is None:
                out.stats[t] = s
            else:
                merged.examples += s.examples
                merged.total += s.total
                merged.total_low += s.total_low
                merged.total_high += s.total_high
                merged.max = max(merged.max, s.max)
                merged.over_limit += s.over_limit
                for name in ("per_example", "per_example_low", "per_example_high"):
                    mine, theirs = getattr(merged, name), getattr(s, name)
                    if mine is not None and theirs is not None:
                        mine.extend(theirs)
            out.billed[t] = out.billed.get(t, 0) + part.billed.get(t, 0)
        out.examples += part.examples
        out.lines += part.lines
        out.n_bytes += part.n_bytes
        out.mixed = out.mixed or part.mixed
        if out.file_format is None:
            out.file_format = part.file_format
    return out


def finish(part: Partial, rules: dict[str, TargetRules],
           max_issues_per_code: int) -> ValidationReport:
    """The report of a whole source: whole-file rules and billed estimates added."""
    collector = IssueCollector(max_issues_per_code)
    collector.kept = part.kept
    collector.counts.update(part.counts)
    collector.errors_by_target.update(part.errors_by_target)
    _file_rules(collector.add, rules, part.file_format, part.examples, part.n_bytes)
    tokens = {}
    for t, s in part.stats.items():
        epochs = rules[t].epochs_for(part.examples)
        s.billed_estimate = BilledEstimate(epochs, epochs * part.billed.get(t, 0))
        tokens[t] = s
    return ValidationReport(
        format="mixed" if part.mixed else (part.file_format or "unknown"),
        examples=part.examples,
        issues=collector.issues(),
        issue_counts=dict(collector.counts),
        tokens=tokens,
        targets=tuple(rules),
        lines=part.lines,
        n_bytes=part.n_bytes,
        errors_by_target=dict(collector.errors_by_target),
    )


def run(source: Source, targets: tuple[str, ...] | list[str], model: str | None = None, *,
        max_issues_per_code: int = DEFAULT_MAX_ISSUES_PER_CODE, count: bool = True,
        keep_per_example: bool = False, rules: dict[str, TargetRules] | None = None,
        workers: int | None = None) -> ValidationReport:
    """Validate ``source`` for ``targets`` in one streaming pass.

    Args:
        workers: processes for a large uncompressed JSONL file (this one included); None:
            automatic (one per core, up to four, from ``PARALLEL_MIN_BYTES``); 1: serial.
    """
    if rules is None:
        rules = resolve_rules(targets, model)
    part: Partial | None = None
    if isinstance(source, JsonlSource) and workers != 1:
        from tuneport.dataset._parallel import scan_file

        part = scan_file(source, rules, max_issues_per_code=max_issues_per_code, count=count,
                         keep_per_example=keep_per_example, workers=workers)
    if part is None:
        part = scan(source, rules, max_issues_per_code=max_issues_per_code, count=count,
                    keep_per_example=keep_per_example)
    return finish(part, rules, max_issues_per_code)


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


def _too_deep(add: Any, line: int, everyone: tuple[str, ...]) -> None:
    add(line, "too_deeply_nested", "The JSON is nested too deeply to read (hundreds of levels); "
        "no training example needs this. Flatten or remove it.", everyone)


def _not_uploadable(add: Any, line: int, obj: Any, everyone: tuple[str, ...]) -> bool:
    """Report a value of ``obj`` that cannot be uploaded as JSON; True when there was one."""
    try:
        found = upload_problem(obj)
    except RecursionError:
        _too_deep(add, line, everyone)
        return True
    if found is None:
        return False
    code, what = found
    if code == "unencodable_text":
        add(line, code, "Text holds a lone UTF-16 surrogate (such as \\ud800) that cannot be "
            "encoded as UTF-8 for upload. Remove it or pair it.", everyone)
    else:
        add(line, code, f"The example holds {what}, which JSON cannot carry to a provider. "
            "Use strings, finite numbers, true/false/null, lists and objects only.", everyone)
    return True


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
