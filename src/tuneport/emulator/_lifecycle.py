"""A job's life as a pure function of the clock.

Nothing runs in the background: each request computes where a job stands from its
creation time, the configured duration and its pause/cancel history. The same clock
reading always gives the same status, step, loss and events, which is what makes the
emulator deterministic under a :class:`~tuneport.emulator.ManualClock`.

Generic phases (each provider maps them to its own status strings)::

    validating [0, .1) -> queued [.1, .2) -> running [.2, .9) -> finishing [.9, 1) -> succeeded
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Phase", "Snapshot", "new_timeline", "snapshot"]

Phase = str  # validating | queued | running | finishing | succeeded | failed | paused
#            | cancelling | cancelled

PHASES: tuple[tuple[Phase, float], ...] = (
    ("validating", 0.10),
    ("queued", 0.20),
    ("running", 0.90),
    ("finishing", 1.00),
)
TRAIN_START, TRAIN_END = 0.20, 0.90
FAIL_INVALID_AT = 0.10  # a bad training file fails when validation ends
FAIL_RANDOM_AT = 0.55  # a random failure strikes mid-training
CANCEL_GRACE = 0.05  # fraction of the job duration a cancellation takes to settle


@dataclass(frozen=True)
class Snapshot:
    """Where a job stands at one instant."""

    phase: Phase
    fraction: float  # 0..1 of the job's duration elapsed (frozen while paused or cancelled)
    step: int  # training steps completed
    n_steps: int
    started_at: float | None  # wall time training started
    finished_at: float | None  # wall time the job reached a terminal phase

    @property
    def terminal(self) -> bool:
        """True when the job will not change any more."""
        return self.phase in ("succeeded", "failed", "cancelled")


def new_timeline(
    *,
    now: float,
    seconds: float,
    n_examples: int,
    n_tokens: int,
    epochs: int,
    fail: str | None = None,
) -> dict[str, Any]:
    """The private bookkeeping stored under a job's ``_emu`` key.

    Args:
        fail: ``None``, ``"invalid"`` (the training file failed validation) or ``"random"``.
    """
    n_steps = max(4, min(200, epochs * math.ceil(max(n_examples, 1) / 2)))
    return {
        "created": now,
        "seconds": max(seconds, 1e-3),
        "segments": [[now, 0.0, None]],  # [wall_start, elapsed_start, wall_end]
        "paused": False,
        "cancelled_at": None,
        "fail": fail,
        "n_examples": n_examples,
        "n_tokens": n_tokens,
        "epochs": epochs,
        "n_steps": n_steps,
    }


def _elapsed(tl: dict[str, Any], now: float) -> float:
    segment = None
    for seg in tl["segments"]:
        if seg[0] <= now:
            segment = seg
    if segment is None:
        return 0.0
    wall_start, elapsed_start, wall_end = segment
    end = now if wall_end is None else min(now, wall_end)
    return float(elapsed_start + max(0.0, end - wall_start))


def wall_time(tl: dict[str, Any], elapsed: float) -> float:
    """The wall time at which the job had run for ``elapsed`` seconds."""
    chosen = tl["segments"][0]
    for seg in tl["segments"]:
        if seg[1] <= elapsed:
            chosen = seg
    return float(chosen[0] + (elapsed - chosen[1]))


def _end_fraction(tl: dict[str, Any]) -> float:
    if tl["fail"] == "invalid":
        return FAIL_INVALID_AT
    if tl["fail"] == "random":
        return FAIL_RANDOM_AT
    return 1.0


def snapshot(tl: dict[str, Any], now: float) -> Snapshot:
    """The job's state at ``now``."""
    seconds = float(tl["seconds"])
    n_steps = int(tl["n_steps"])
    end = _end_fraction(tl)
    fraction = min(_elapsed(tl, now) / seconds, end)

    def steps_at(frac: float) -> int:
        if frac <= TRAIN_START:
            return 0
        return min(n_steps, int(n_steps * (frac - TRAIN_START) / (TRAIN_END - TRAIN_START)))

    started = wall_time(tl, TRAIN_START * seconds) if fraction >= TRAIN_START else None
    step = steps_at(fraction)
    if tl["cancelled_at"] is not None:
        settle = tl["cancelled_at"] + CANCEL_GRACE * seconds
        if now >= settle:
            return Snapshot("cancelled", fraction, step, n_steps, started, settle)
        return Snapshot("cancelling", fraction, step, n_steps, started, None)
    if fraction >= end:
        finished = wall_time(tl, end * seconds)
        phase = "succeeded" if end >= 1.0 else "failed"
        return Snapshot(phase, fraction, step, n_steps, started, finished)
    if tl["paused"]:
        return Snapshot("paused", fraction, step, n_steps, started, None)
    phase = next(name for name, upper in PHASES if fraction < upper)
    return Snapshot(phase, fraction, step, n_steps, started, None)


def pause(tl: dict[str, Any], now: float) -> None:
    """Stop the job's progress at ``now``."""
    if not tl["paused"]:
        tl["segments"][-1][2] = now
        tl["paused"] = True


def resume(tl: dict[str, Any], now: float) -> None:
    """Let a paused job go on from where it stopped."""
    if tl["paused"]:
        tl["segments"].append([now, _elapsed(tl, now), None])
        tl["paused"] = False


def retry_failed(tl: dict[str, Any], now: float) -> None:
    """Restart a randomly failed job at ``now`` from where it failed (not from the start)."""
    if tl["fail"] == "random":
        failed_at = wall_time(tl, FAIL_RANDOM_AT * float(tl["seconds"]))
        tl["fail"] = None
        tl["segments"][-1][2] = failed_at
        tl["paused"] = True
        resume(tl, now)


def cancel(tl: dict[str, Any], now: float) -> None:
    """Stop the job for good; it settles as cancelled after a short grace period."""
    if tl["cancelled_at"] is None:
        if tl["segments"][-1][2] is None:
            tl["segments"][-1][2] = now
        tl["cancelled_at"] = now


def loss_at(step: int, n_steps: int) -> float:
    """The training loss reported at ``step``: a smooth, strictly falling curve."""
    return round(0.35 + 2.1 * math.exp(-3.0 * step / max(n_steps, 1)), 4)


def learning_rate_at(step: int, n_steps: int, base: float) -> float:
    """A linear-decay learning rate at ``step``."""
    return base * max(0.0, 1.0 - step / max(n_steps, 1))


def epoch_end_steps(tl: dict[str, Any]) -> list[int]:
    """The step at which each epoch ends (where checkpoints are written)."""
    n_steps, epochs = tl["n_steps"], max(1, tl["epochs"])
    return [max(1, round(n_steps * (k + 1) / epochs)) for k in range(epochs)]


def trained_tokens(tl: dict[str, Any], step: int) -> int:
    """Tokens processed by ``step`` (all of them once training is complete)."""
    total = int(tl["n_tokens"]) * max(1, int(tl["epochs"]))
    return total * step // max(1, int(tl["n_steps"]))


@dataclass(frozen=True)
class Happening:
    """One generic event in a job's life; providers phrase and shape it their own way."""

    at: float  # wall time
    kind: str  # created validated started step checkpoint paused resumed
    #            finishing cancel_requested cancelled failed_invalid failed_random succeeded
    step: int | None = None


def happenings(tl: dict[str, Any], now: float) -> list[Happening]:
    """Everything that has happened to the job by ``now``, oldest first."""
    snap = snapshot(tl, now)
    seconds, n_steps = tl["seconds"], tl["n_steps"]
    elapsed = _elapsed(tl, now)

    def at(frac: float) -> float:
        return wall_time(tl, frac * seconds)

    out = [Happening(tl["created"], "created")]
    if tl["fail"] == "invalid":
        if snap.phase == "failed":
            out.append(Happening(at(FAIL_INVALID_AT), "failed_invalid"))
    else:
        if elapsed >= FAIL_INVALID_AT * seconds:
            out.append(Happening(at(FAIL_INVALID_AT), "validated"))
        if elapsed >= TRAIN_START * seconds:
            out.append(Happening(at(TRAIN_START), "started"))
        ends = set(epoch_end_steps(tl))
        for step in range(1, snap.step + 1):
            t = at(TRAIN_START + (TRAIN_END - TRAIN_START) * step / n_steps)
            out.append(Happening(t, "step", step))
            if step in ends:
                out.append(Happening(t, "checkpoint", step))
        if elapsed >= TRAIN_END * seconds and tl["fail"] is None:
            out.append(Happening(at(TRAIN_END), "finishing"))
        if snap.phase == "failed":
            out.append(Happening(at(FAIL_RANDOM_AT), "failed_random"))
        if snap.phase == "succeeded":
            out.append(Happening(at(1.0), "succeeded"))
    segments = tl["segments"]
    for i, seg in enumerate(segments):
        if seg[2] is not None and (i + 1 < len(segments) or tl["paused"]):
            out.append(Happening(seg[2], "paused"))
        if i > 0:
            out.append(Happening(seg[0], "resumed"))
    if tl["cancelled_at"] is not None:
        out.append(Happening(tl["cancelled_at"], "cancel_requested"))
        if snap.phase == "cancelled" and snap.finished_at is not None:
            out.append(Happening(snap.finished_at, "cancelled"))
    out = [h for h in out if h.at <= now]
    out.sort(key=lambda h: h.at)
    return out
