"""Sending an evaluation's requests: cached, concurrent, rate-limited, retried, counted.

Every request is first looked up in the response cache (the ledger's ``eval_responses``),
so a second run of the same evaluation sends nothing. What is left goes out through a
thread pool of ``concurrency`` workers, each provider held to its own request rate, each
call wrapped in the retry policy the client hands in. A request that still fails is an
outcome too (its error text): the caller records the example as failed, never drops it.
Local targets answer their share in batches instead.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuneport._exceptions import TuneportError

if TYPE_CHECKING:
    from tuneport.evaluate._targets import Target
    from tuneport.ledger import EvalStore

__all__ = ["DEFAULT_RATE_LIMITS", "Engine", "Outcome", "Request", "RetryCall"]

#: Requests per second per provider, below the lowest published tier's limits; a provider
#: missing here (a local server, a custom URL) is not throttled.
DEFAULT_RATE_LIMITS: dict[str, float] = {"openai": 8.0, "together": 8.0, "fireworks": 8.0}

#: How many local conversations go to one batched call (progress is reported between).
LOCAL_CHUNK = 16

RetryCall = Callable[[Callable[[], Any]], Any]
ProgressHook = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Request:
    """One chat request to one target."""

    target: Target
    messages: list[dict[str, Any]]
    max_tokens: int
    tools: list[Any] | None = None

    @property
    def cache_key(self) -> str:
        """sha256 of (endpoint and model, messages, tools, generation settings)."""
        data = {"target": self.target.cache_id, "messages": self.messages, "tools": self.tools,
                "max_tokens": self.max_tokens, "temperature": 0.0}
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Outcome:
    """A reply (``response``) or why there is none (``error``)."""

    response: dict[str, Any] | None = None
    error: str | None = None
    cached: bool = False


class _RateLimiter:
    """At most ``rate`` request starts per second (evenly spaced), shared by all threads."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


@dataclass
class Engine:
    """Runs requests and keeps the counts the report's ``usage`` shows.

    Args:
        store: the response cache (None: no caching).
        retry: wraps one call in the retry policy (the client's ``retrying``).
        concurrency: worker threads for remote targets.
        rate_limits: requests per second per provider.
        progress: called with ``("progress", {...})`` after each reply.
    """

    store: EvalStore | None
    retry: RetryCall
    concurrency: int = 8
    rate_limits: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    progress: ProgressHook | None = None
    requests: int = 0
    cached: int = 0
    failed: int = 0
    tokens: int = 0
    spent: dict[str, list[int]] = field(default_factory=dict)  # cache_id -> [in, out]
    estimate: dict[str, Any] = field(default_factory=dict)  # what was expected up front
    _done: int = 0
    _total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _limiters: dict[str, _RateLimiter] = field(default_factory=dict)

    def lookup(self, request: Request) -> dict[str, Any] | None:
        """The cached reply, if any (no request, no count)."""
        return None if self.store is None else self.store.cached_response(request.cache_key)

    def run(self, requests: list[Request]) -> list[Outcome]:
        """One outcome per request, in order."""
        outcomes: list[Outcome | None] = [None] * len(requests)
        pending: list[int] = []
        for i, req in enumerate(requests):
            hit = self.lookup(req)
            if hit is not None:
                outcomes[i] = Outcome(response=hit, cached=True)
            else:
                pending.append(i)
        with self._lock:
            self.cached += len(requests) - len(pending)
            self._total += len(requests)
            self._done += len(requests) - len(pending)
        self._tick()
        local = [i for i in pending if requests[i].target.batched]
        remote = [i for i in pending if not requests[i].target.batched]
        if remote:
            with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
                for i, outcome in zip(remote, pool.map(lambda i: self._one(requests[i]), remote),
                                      strict=True):
                    outcomes[i] = outcome
        by_target: dict[str, list[int]] = {}
        for i in local:
            by_target.setdefault(requests[i].target.cache_id, []).append(i)
        for indices in by_target.values():
            for start in range(0, len(indices), LOCAL_CHUNK):
                chunk = indices[start:start + LOCAL_CHUNK]
                for i, outcome in zip(chunk, self._batch([requests[i] for i in chunk]),
                                      strict=True):
                    outcomes[i] = outcome
        return [o if o is not None else Outcome(error="not run") for o in outcomes]

    def _limit(self, provider: str) -> None:
        rate = self.rate_limits.get(provider)
        if not rate:
            return
        with self._lock:
            limiter = self._limiters.setdefault(provider, _RateLimiter(rate))
        limiter.wait()

    def _one(self, req: Request) -> Outcome:
        def call() -> dict[str, Any]:
            self._limit(req.target.provider)
            with self._lock:
                self.requests += 1
            return req.target.complete(req.messages, max_tokens=req.max_tokens,
                                       tools=req.tools)

        try:
            response: dict[str, Any] = self.retry(call)
        except TuneportError as exc:
            outcome = Outcome(error=str(exc))
        except Exception as exc:
            outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
        else:
            outcome = Outcome(response=response)
        self._record(req, outcome)
        return outcome

    def _batch(self, reqs: list[Request]) -> list[Outcome]:
        target = reqs[0].target
        with self._lock:
            self.requests += len(reqs)
        try:
            responses = target.complete_batch([r.messages for r in reqs],
                                              max_tokens=reqs[0].max_tokens)
            outcomes = [Outcome(response=r) for r in responses]
        except Exception as exc:
            outcomes = [Outcome(error=f"{type(exc).__name__}: {exc}") for _ in reqs]
        for req, outcome in zip(reqs, outcomes, strict=True):
            self._record(req, outcome)
        return outcomes

    def _record(self, req: Request, outcome: Outcome) -> None:
        if outcome.response is not None:
            if self.store is not None:
                self.store.store_response(req.cache_key, req.target.cache_id, req.target.label,
                                          outcome.response)
            used_in = int(outcome.response.get("prompt_tokens") or 0)
            used_out = int(outcome.response.get("completion_tokens") or 0)
        else:
            used_in = used_out = 0
        with self._lock:
            self._done += 1
            self.failed += outcome.error is not None
            self.tokens += used_in + used_out
            spent = self.spent.setdefault(req.target.cache_id, [0, 0])
            spent[0] += used_in
            spent[1] += used_out
        self._tick()

    def _tick(self) -> None:
        if self.progress is not None:
            with self._lock:
                info = {"done": self._done, "total": self._total, "cached": self.cached,
                        "failed": self.failed, "requests": self.requests}
            self.progress("progress", info)
