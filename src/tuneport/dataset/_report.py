"""Issues, the bounded collector that keeps them, token statistics and the report."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tuneport.dataset._codes import CODES, Severity

__all__ = [
    "DEFAULT_MAX_ISSUES_PER_CODE",
    "BilledEstimate",
    "Issue",
    "IssueCollector",
    "TokenStats",
    "ValidationReport",
]

DEFAULT_MAX_ISSUES_PER_CODE = 20


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a dataset.

    Attributes:
        line: 1-based line number in the source (the record's index + 1 for in-memory
            sources); 0 for a problem of the whole file, such as too few examples.
        code: a stable code, documented in docs/validation-codes.md.
        severity: ``error`` (the target would reject or mistrain) or ``warning``.
        message: what is wrong and how to fix it.
        targets: the targets the problem affects.
    """

    line: int
    code: str
    severity: Severity
    message: str
    targets: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The issue as the ``--json`` output shows it."""
        return {
            "line": self.line,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "targets": list(self.targets),
        }


class IssueCollector:
    """Keeps the first ``limit`` issues of each code and exact counts of all of them.

    Memory stays bounded whatever the file: a million bad lines cost one counter.
    """

    def __init__(self, limit: int = DEFAULT_MAX_ISSUES_PER_CODE) -> None:
        self.limit = limit
        self.kept: dict[str, list[Issue]] = {}
        self.counts: Counter[str] = Counter()
        # Errors per target, counted exactly, so "ok for this target" never depends on `limit`.
        self.errors_by_target: Counter[str] = Counter()

    def add(
        self,
        line: int,
        code: str,
        message: str,
        targets: Iterable[str],
        severity: Severity | None = None,
    ) -> None:
        """Record one issue; ``severity`` defaults to the code's usual severity."""
        sev: Severity = severity if severity is not None else CODES[code].severity
        tgts = tuple(targets)
        self.counts[code] += 1
        if sev == "error":
            for t in tgts:
                self.errors_by_target[t] += 1
        bucket = self.kept.setdefault(code, [])
        if len(bucket) < self.limit:
            bucket.append(Issue(line, code, sev, message, tgts))

    def add_run(self, line: int, count: int, code: str, message: str,
                targets: Iterable[str]) -> None:
        """Record the same issue on ``count`` consecutive lines from ``line``, in O(kept)."""
        sev: Severity = CODES[code].severity
        tgts = tuple(targets)
        self.counts[code] += count
        if sev == "error":
            for t in tgts:
                self.errors_by_target[t] += count
        bucket = self.kept.setdefault(code, [])
        for k in range(min(count, max(0, self.limit - len(bucket)))):
            bucket.append(Issue(line + k, code, sev, message, tgts))

    def issues(self) -> list[Issue]:
        """Kept issues, ordered by line then code."""
        out = [i for bucket in self.kept.values() for i in bucket]
        out.sort(key=lambda i: (i.line, i.code))
        return out


@dataclass(frozen=True, slots=True)
class BilledEstimate:
    """Tokens the provider would bill: epochs × Σ min(limit, tokens per example)."""

    epochs: int
    tokens: int

    def to_dict(self) -> dict[str, int]:
        """As the JSON report shows it."""
        return {"epochs": self.epochs, "tokens": self.tokens}


@dataclass(slots=True)
class TokenStats:
    """Token counts of a dataset for one target.

    Attributes:
        target: the target counted for.
        model: the model whose limits and tokenizer were used (None: the target's default).
        tokenizer: e.g. ``tiktoken:o200k_base``, ``hf:<repo or folder>`` or ``approx``.
        exact: False when the counts come from an approximation; then ``total_low`` and
            ``total_high`` bound the true total and ``total`` is the central estimate.
        examples: examples counted.
        total: tokens in all examples.
        max: tokens in the longest example.
        mean: tokens per example.
        over_limit: examples longer than ``limit`` (for inexact counts: surely longer).
        limit: the model's maximum tokens per example, when known.
        per_example: tokens per example in order (a compact ``array('I')``), kept only when
            asked for (``count_tokens``), so validation stays flat in memory.
        per_example_low, per_example_high: bounds per example when inexact and kept.
        billed_estimate: what the provider would bill with its default epochs.
    """

    target: str
    model: str | None
    tokenizer: str
    exact: bool
    examples: int = 0
    total: int = 0
    max: int = 0
    over_limit: int = 0
    limit: int | None = None
    total_low: int = 0
    total_high: int = 0
    per_example: array[int] | None = None
    per_example_low: array[int] | None = None
    per_example_high: array[int] | None = None
    billed_estimate: BilledEstimate = field(default_factory=lambda: BilledEstimate(1, 0))

    @property
    def mean(self) -> float:
        """Mean tokens per example (0.0 for an empty dataset)."""
        return self.total / self.examples if self.examples else 0.0

    def to_dict(self) -> dict[str, Any]:
        """As the JSON report shows it (no per-example arrays)."""
        return {
            "tokenizer": self.tokenizer,
            "exact": self.exact,
            "model": self.model,
            "total": self.total,
            "total_low": self.total_low,
            "total_high": self.total_high,
            "max": self.max,
            "mean": round(self.mean, 2),
            "limit": self.limit,
            "over_limit": self.over_limit,
            "billed_estimate": self.billed_estimate.to_dict(),
        }


@dataclass(slots=True)
class ValidationReport:
    """The outcome of validating a dataset against one or more targets.

    Attributes:
        ok: True when no target has an error.
        format: ``chat``, ``completion``, ``text``, ``preference``, ``mixed`` or ``unknown``.
        examples: examples read (lines holding a usable example).
        issues: the first problems of each code, ordered by line.
        issue_counts: exact number of problems per code.
        tokens: token statistics per target.
        targets: the targets checked.
        lines: lines (records) read, blank ones included.
        n_bytes: bytes read from the source (0 for in-memory sources).
    """

    format: str
    examples: int
    issues: list[Issue]
    issue_counts: dict[str, int]
    tokens: dict[str, TokenStats]
    targets: tuple[str, ...]
    lines: int = 0
    n_bytes: int = 0
    errors_by_target: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no checked target has an error."""
        return not any(self.errors_by_target.get(t, 0) for t in self.targets)

    def ok_for(self, target: str) -> bool:
        """True when ``target`` has no error (exact, whatever the number of kept issues)."""
        return self.errors_by_target.get(target, 0) == 0

    def errors_for(self, target: str) -> list[Issue]:
        """The kept errors that affect ``target``."""
        return [i for i in self.issues if i.severity == "error" and target in i.targets]

    def warnings_for(self, target: str) -> list[Issue]:
        """The kept warnings that affect ``target``."""
        return [i for i in self.issues if i.severity == "warning" and target in i.targets]

    def to_dict(self) -> dict[str, Any]:
        """The report in the shape ``tuneport validate --json`` prints."""
        return {
            "ok": self.ok,
            "format": self.format,
            "examples": self.examples,
            "lines": self.lines,
            "bytes": self.n_bytes,
            "targets": list(self.targets),
            "issues": [i.to_dict() for i in self.issues],
            "issue_counts": dict(sorted(self.issue_counts.items())),
            "errors_by_target": {t: self.errors_by_target.get(t, 0) for t in self.targets},
            "tokens": {t: s.to_dict() for t, s in self.tokens.items()},
        }
