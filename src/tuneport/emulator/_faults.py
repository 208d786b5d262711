"""Transport faults: what a real service's edge does to requests now and then.

Kinds:

- ``rate_limit``: 429 with ``Retry-After`` and the provider's rate-limit body.
- ``server_error``: 500 with the provider's error body.
- ``unavailable``: 503 with the provider's error body.
- ``timeout``: the request is carried out, but the answer comes later than a client waits.
- ``drop``: on a job-creating request, the job is created and then the connection is cut
  before the answer is complete (the case that makes blind retries create duplicates).

Faults are drawn at ``rate`` from a generator seeded with ``seed`` (reproducible), or
scheduled one by one with :meth:`FaultPlan.schedule` for tests that need a given fault.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "FaultPlan"]

FAULT_KINDS = ("rate_limit", "server_error", "unavailable", "timeout", "drop")


@dataclass
class _Scheduled:
    kind: str
    provider: str | None
    path_contains: str | None
    method: str | None


class FaultPlan:
    """Decides, request by request, whether a fault strikes.

    Args:
        rate: probability that any one request gets a random fault.
        seed: seed of the generator that draws random faults.
        kinds: the kinds random faults are drawn from.
    """

    def __init__(self, rate: float = 0.0, seed: int = 0,
                 kinds: tuple[str, ...] = FAULT_KINDS) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self.rate = rate
        self.kinds = tuple(kinds)
        self._rng = random.Random(seed)
        self._scheduled: list[_Scheduled] = []
        self._lock = threading.Lock()

    def schedule(self, kind: str, *, provider: str | None = None,
                 path_contains: str | None = None, method: str | None = None,
                 times: int = 1) -> None:
        """Make the next ``times`` matching requests fail with ``kind``.

        Args:
            kind: one of :data:`FAULT_KINDS`.
            provider: only requests to this provider (``openai``, ``together``, ``fireworks``).
            path_contains: only requests whose path contains this text.
            method: only requests with this HTTP method.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
        with self._lock:
            for _ in range(times):
                self._scheduled.append(
                    _Scheduled(kind, provider, path_contains, method.upper() if method else None)
                )

    def clear(self) -> None:
        """Forget every scheduled fault."""
        with self._lock:
            self._scheduled.clear()

    def draw(self, provider: str, method: str, path: str, *, creates_job: bool) -> str | None:
        """The fault for this request, or ``None``."""
        with self._lock:
            for i, s in enumerate(self._scheduled):
                if (
                    (s.provider is None or s.provider == provider)
                    and (s.path_contains is None or s.path_contains in path)
                    and (s.method is None or s.method == method)
                    and (s.kind != "drop" or creates_job)
                ):
                    del self._scheduled[i]
                    return s.kind
            if self.rate <= 0.0 or self._rng.random() >= self.rate:
                return None
            choices = [k for k in self.kinds if k != "drop" or creates_job]
            return self._rng.choice(choices) if choices else None
