"""The client's side of evaluation: held-out data kept out of training, and
``Client.evaluate`` wired to endpoints, the ledger and the retry policy.

The evaluation itself (metrics, statistics, the report) is :mod:`tuneport.evaluate`; this
module only decides what to call (a job's endpoint, its baseline) and hands in what the
client owns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneport._exceptions import ConfigError, DatasetError
from tuneport._models import Job, ModelEndpoint
from tuneport.dataset import Dataset
from tuneport.ledger import EvalStore

if TYPE_CHECKING:
    from tuneport.client.client import Client
    from tuneport.evaluate import EvalReport, Metric

__all__ = ["check_heldout_overlap", "evaluate", "remember_heldout"]

#: How many overlapping lines an error names before it says "and N more".
_LINES_NAMED = 10


def _as_dataset(data: Any) -> Dataset | None:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str | Path):
        return Dataset.from_jsonl(data)
    if isinstance(data, list):
        return Dataset.from_records(data)
    return None  # a one-shot iterable is read once, by the submission itself


def remember_heldout(store: EvalStore, data: Any, source: str) -> int:
    """Record every example of ``data`` as held out; returns how many were new."""
    from tuneport.dataset._split import example_hash

    dataset = _as_dataset(data)
    if dataset is None:
        return 0
    return store.remember_heldout((example_hash(e) for e in dataset.iter_examples()), source)


def check_heldout_overlap(store: EvalStore, data: Any, *, allow_overlap: bool) -> None:
    """Refuse training data that contains held-out examples.

    The held-out part of a :meth:`Dataset.split` is recorded first (so it is protected
    from this job on), then every training example is looked up.

    Raises:
        DatasetError: some training lines are held-out examples (named), unless
            ``allow_overlap``.
    """
    from tuneport.dataset._split import example_hash

    dataset = _as_dataset(data)
    if dataset is None:
        return
    if dataset.heldout_hashes:
        store.remember_heldout(dataset.heldout_hashes, f"split of {dataset!r}")
    if allow_overlap or not store.has_heldout():
        return  # nothing to compare with: no need to read the data here
    lines: dict[str, list[int]] = {}
    for example in dataset.iter_examples():
        lines.setdefault(example_hash(example), []).append(example.line)
    held = store.heldout_among(lines)
    if not held:
        return
    overlapping = sorted(line for h in held for line in lines[h])
    named = ", ".join(str(n) for n in overlapping[:_LINES_NAMED])
    more = (f" and {len(overlapping) - _LINES_NAMED} more"
            if len(overlapping) > _LINES_NAMED else "")
    sources = sorted(set(held.values()))
    raise DatasetError(
        f"{dataset!r}: line(s) {named}{more} are held-out examples (set aside by "
        f"{'; '.join(sources[:3])}). Training on them would make the evaluation measure "
        "memory, not skill. Remove those lines, or pass allow_overlap=True "
        "(CLI: --allow-overlap) if you mean to."
    )


def evaluate(
    client: Client,
    job_or_endpoint: Any,
    heldout: Any,
    *,
    baseline: str | ModelEndpoint | tuple[str, str],
    metrics: Sequence[str | Metric] | None,
    judge: Any,
    regression: Any,
    max_examples: int | None,
    concurrency: int,
    seed: int,
    margin: float,
    max_tokens: int,
    on_progress: Callable[[str, dict[str, Any]], None] | None,
) -> EvalReport:
    """See :meth:`tuneport.Client.evaluate`."""
    from tuneport.evaluate import baseline_target, judge_from, run_evaluation, target_for

    if concurrency < 1:
        raise ConfigError(f"concurrency={concurrency}: give at least 1.")
    if isinstance(job_or_endpoint, ModelEndpoint):
        endpoint: ModelEndpoint | None = job_or_endpoint
        label = f"{job_or_endpoint.provider}:{job_or_endpoint.model}"
    elif isinstance(job_or_endpoint, tuple) or (
            isinstance(job_or_endpoint, str) and "#" in job_or_endpoint):
        endpoint, label = None, str(job_or_endpoint)
    else:
        job = job_or_endpoint if isinstance(job_or_endpoint, Job) else client.get_job(
            job_or_endpoint)
        endpoint = client.endpoint(job)
        label = f"{job.provider}:{job.id}"
    if endpoint is None:
        tuned = target_for(job_or_endpoint)
        if isinstance(baseline, str) and baseline == "base":
            raise ConfigError("baseline='base' needs a job or an endpoint that knows its base "
                              "model; with a (base_url, model) pair, pass the baseline too.")
        base = target_for(baseline)
    else:
        tuned = target_for(endpoint)
        base = baseline_target(endpoint, baseline)
    store = EvalStore(client.ledger.path)
    remember_heldout(store, heldout, f"evaluation of {label}")
    try:
        return run_evaluation(
            tuned, base, heldout, job=label, metrics=metrics, judge=judge_from(judge),
            regression=regression, max_examples=max_examples, concurrency=concurrency,
            seed=seed, store=store, retry=client._retry, margin=margin, max_tokens=max_tokens,
            on_progress=on_progress,
        )
    finally:
        for target in (tuned, base):
            close = getattr(target, "close", None)
            if close is not None:
                close()
