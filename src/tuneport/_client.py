"""The client: everything convenient about fine-tuning lives here, not in the adapters.

:class:`Client` validates, renders, uploads (once per content and provider), creates jobs
with an idempotency key, retries transient failures after looking for the job a lost
request may have created, records everything in the ledger, and waits with backoff.
:class:`AsyncClient` has the same surface for ``asyncio`` code.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tuneport._config import RetryPolicy, Settings, load_settings
from tuneport._exceptions import (
    ConfigError,
    ConflictError,
    DatasetError,
    JobError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    RateLimitError,
    UnknownProviderError,
    UnsupportedFeatureError,
    ValidationFailedError,
)
from tuneport._models import (
    Capability,
    Checkpoint,
    FineTuneSpec,
    Job,
    JobEvent,
    JobStatus,
    MetricPoint,
    ModelEndpoint,
    RemoteFile,
    RenderedDataset,
    WandbConfig,
)
from tuneport._retrying import PollBackoff, retrying
from tuneport.ledger import Ledger

if TYPE_CHECKING:
    from tuneport.cost import Comparison, CostEstimate
    from tuneport.providers.base import Provider, ProviderQuote

__all__ = ["AsyncClient", "Client", "JobRef", "derive_idempotency_key"]

T = TypeVar("T")

#: A job as the client accepts it: a :class:`Job`, ``"provider:id"``, or a bare id
#: looked up in the ledger.
JobRef = Job | str

DEFAULT_POLL = 5.0
DEFAULT_MAX_POLL = 60.0

_HOSTED = frozenset({"openai", "together", "fireworks"})

_METHOD_CAPABILITY = {
    "lora": Capability.LORA,
    "full": Capability.FULL,
    "qlora": Capability.QLORA,
    "dpo-lora": Capability.DPO,
    "dpo-full": Capability.DPO,
}


def derive_idempotency_key(
    fingerprint: str,
    provider: str,
    spec: dict[str, Any],
    validation_fingerprint: str | None = None,
) -> str:
    """The default idempotency key: the same data, provider and spec give the same key.

    It is short and ``[a-z0-9-]`` only, so every provider can carry it (OpenAI metadata,
    Fireworks job id, Together suffix).
    """
    payload = json.dumps(
        {
            "fingerprint": fingerprint,
            "provider": provider,
            "spec": spec,
            "validation": validation_fingerprint,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "tp-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass
class _Prepared:
    provider: str
    adapter: Provider
    spec: FineTuneSpec
    rendered: RenderedDataset
    validation: RenderedDataset | None


ProgressCallback = Callable[[str, dict[str, Any]], None]


class Client:
    """Fine-tune on any configured provider and follow the jobs.

    Settings are layered (call argument > ``Client`` argument > ``TUNEPORT_*`` environment
    > the provider SDK's own environment > ``tuneport.toml`` > defaults); see
    :func:`tuneport.load_settings`.

    Args:
        provider: the default provider (``openai``, ``together``, ``fireworks``, ``local``
            or a plugin's name); methods also take ``provider=`` per call.
        profile: a ``[profiles.NAME]`` table of ``tuneport.toml`` to use.
        api_key: the default provider's API key.
        base_url: the default provider's API root.
        account_id: Fireworks' account id.
        timeout: seconds per request.
        retry: a :class:`~tuneport._config.RetryPolicy` or a number of attempts.
        home: where the ledger lives (``TUNEPORT_HOME``).
        **settings: any other setting :func:`~tuneport.load_settings` accepts.

    Example::

        with tuneport.Client(provider="together") as client:
            job = client.fine_tune("support.jsonl", model="llama-3.1-8b-instruct", epochs=3)
            job = client.wait(job)
            print(client.endpoint(job).model)
    """

    def __init__(
        self,
        provider: str | None = None,
        *,
        profile: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        account_id: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | int | None = None,
        home: str | Path | None = None,
        **settings: Any,
    ) -> None:
        if isinstance(retry, int):
            retry = RetryPolicy(attempts=retry)
        provider_extra = {
            k: settings.pop(k) for k in list(settings) if k not in Settings.model_fields
        }
        if provider_extra:
            # Provider-only settings (Together's project_id ...) belong to that provider.
            if provider is None:
                raise ConfigError(
                    f"{', '.join(sorted(provider_extra))}= needs a provider; pass provider=... too."
                )
            mine = settings.setdefault("providers", {}).setdefault(provider.lower(), {})
            mine.update(provider_extra)
        self.settings: Settings = load_settings(
            provider,
            profile,
            api_key=api_key,
            base_url=base_url,
            account_id=account_id,
            timeout=timeout,
            retry=retry.model_dump() if retry is not None else None,
            home=str(Path(home).expanduser()) if home is not None else None,
            **settings,
        )
        self._adapters: dict[str, Provider] = {}
        self._lock = threading.Lock()
        self._ledger: Ledger | None = None
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        # Swappable so tests can run the backoff without real waiting.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"Client(provider={self.settings.provider!r}, home={str(self.settings.home)!r})"

    # -- plumbing ----------------------------------------------------------------------

    @property
    def provider(self) -> str:
        """The default provider's name."""
        if not self.settings.provider:
            raise ConfigError(
                "No provider selected. Pass provider=... (openai, together, fireworks, local), "
                "set TUNEPORT_PROVIDER, or set provider in tuneport.toml."
            )
        return self.settings.provider

    @property
    def ledger(self) -> Ledger:
        """The job ledger under ``TUNEPORT_HOME``."""
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger.in_home(self.settings.home)
            return self._ledger

    def adapter(self, provider: str | None = None) -> Provider:
        """The adapter of ``provider`` (default: the client's), created on first use."""
        from tuneport.providers.registry import get_provider

        name = (provider or self.provider).lower()
        with self._lock:
            found = self._adapters.get(name)
        if found is not None:
            return found
        built = get_provider(name, self.settings.provider_settings(name))
        with self._lock:
            # Another thread may have built one meanwhile; keep the first, close ours.
            existing = self._adapters.setdefault(name, built)
        if existing is not built:
            built.close()
        return existing

    def _retry(self, fn: Callable[[], T]) -> T:
        result: T = retrying(self.settings.retry, self._sleep)(fn)
        return result

    def _resolve(self, job: JobRef) -> tuple[str, str]:
        """(provider, job id) for a job reference."""
        if isinstance(job, Job):
            return job.provider, job.id
        if not isinstance(job, str) or not job.strip():
            raise ConfigError(f"Expected a Job or a job id, got {job!r}.")
        ref = job.strip()
        head, sep, rest = ref.partition(":")
        if sep and rest:
            from tuneport.providers.registry import available_providers

            if head.lower() in available_providers():
                return head.lower(), rest
        known = self.ledger.providers_of(ref)
        if len(known) == 1:
            return known[0], ref
        if len(known) > 1:
            raise ConfigError(
                f"Job id {ref!r} exists at several providers ({', '.join(known)}); "
                f"write it as provider:id, e.g. {known[0]}:{ref}."
            )
        if self.settings.provider:
            return self.settings.provider, ref
        raise ConfigError(
            f"Job {ref!r} is not in the ledger and no provider is selected; "
            "write it as provider:id (e.g. together:ft-123) or pass provider=...."
        )

    # -- submitting --------------------------------------------------------------------

    def fine_tune(
        self,
        dataset: Any,
        *,
        model: str,
        method: str = "lora",
        epochs: int | str | None = None,
        learning_rate: float | None = None,
        batch_size: int | str | None = None,
        lora_rank: int | None = None,
        suffix: str | None = None,
        validation: Any = None,
        wait: bool = False,
        idempotency_key: str | None = None,
        new: bool = False,
        wandb: WandbConfig | dict[str, Any] | None = None,
        devices: int | str | None = None,
        provider: str | None = None,
        on_progress: ProgressCallback | None = None,
        **provider_options: Any,
    ) -> Job:
        """Validate, upload and start a fine-tuning job; return it (or wait for it).

        Calling it again with the same dataset and arguments returns the same job
        (idempotency through the ledger and the provider); pass ``new=True`` for another.

        Args:
            dataset: a :class:`tuneport.Dataset`, a path to a JSONL file, or a list of records.
            model: a canonical name (``llama-3.1-8b-instruct``) or the provider's own id.
            method: ``lora`` (default), ``full``, ``qlora``, ``dpo-lora`` or ``dpo-full``.
            epochs: training epochs (``"auto"`` where the provider chooses).
            learning_rate: the learning rate (or multiplier, on OpenAI).
            batch_size: the batch size (``"auto"``/``"max"`` where supported).
            lora_rank: the LoRA rank.
            suffix: a name suffix for the fine-tuned model.
            validation: an optional validation dataset (same forms as ``dataset``).
            wait: block until the job ends (see :meth:`wait`).
            idempotency_key: your own key; by default a hash of the rendered data, the
                provider and the spec.
            new: create a new job even if an identical one was submitted before.
            wandb: Weights & Biases tracking (the key comes from ``WANDB_API_KEY``).
            devices: GPUs / processes for the local backend.
            provider: this call's provider (default: the client's).
            on_progress: called with ``(stage, info)`` at each step (``validated``,
                ``uploading``, ``uploaded``, ``upload_reused``, ``creating``, ``created``,
                ``adopted``, ``existing``); the CLI uses it for its progress display.
            **provider_options: provider-only fields passed through to the provider.

        Raises:
            ValidationFailedError: the dataset has errors for this provider (nothing uploaded).
            UnknownModelError: the model is not in the provider's catalog.
            UnsupportedFeatureError: the provider cannot do the method or a parameter.
            ProviderError: the provider refused, after tuneport's retries.
        """
        if new and idempotency_key is not None:
            raise ConfigError("Pass either idempotency_key=... or new=True, not both.")
        notify = on_progress or (lambda stage, info: None)
        if devices is not None:
            provider_options["devices"] = devices
        with self._prepare(
            dataset, provider=provider, model=model, method=method, epochs=epochs,
            learning_rate=learning_rate, batch_size=batch_size, lora_rank=lora_rank,
            suffix=suffix, validation=validation, wandb=wandb,
            provider_options=provider_options, notify=notify,
        ) as prep:
            key = idempotency_key or derive_idempotency_key(
                prep.rendered.fingerprint, prep.provider, prep.spec.normalized(),
                prep.validation.fingerprint if prep.validation else None,
            )
            if new:
                # A fresh key that still says which submission it came from.
                key = derive_idempotency_key(key, prep.provider, {"new": uuid.uuid4().hex})
            with self._key_lock(prep.provider, key):
                job = self._submit(prep, key, notify)
        if wait:
            return self.wait(job)
        return job

    @contextmanager
    def _key_lock(self, provider: str, key: str) -> Iterator[None]:
        # Two threads of one client submitting the same thing must not both create; the
        # second waits and then finds the first one's job in the ledger.
        with self._lock:
            lock = self._key_locks.setdefault((provider, key), threading.Lock())
        with lock:
            yield

    def _submit(self, prep: _Prepared, key: str, notify: ProgressCallback) -> Job:
        ledger, adapter, name = self.ledger, prep.adapter, prep.provider
        previous = ledger.get_submission(name, key)
        if previous is not None and previous.state == "created" and previous.job_id:
            notify("existing", {"job_id": previous.job_id, "idempotency_key": key})
            return self.get_job(Job(
                id=previous.job_id, provider=name, status=JobStatus.UNKNOWN,
                provider_status="", idempotency_key=key,
            ))
        if previous is not None:
            # A create was sent before and its outcome never recorded (crash, kill, lost
            # response): the job may exist. Look before creating another.
            found = self._retry(lambda: adapter.find_job(key))
            if found is not None:
                return self._adopted(name, key, found, notify)

        file = self._upload(prep, prep.rendered, notify)
        vfile = self._upload(prep, prep.validation, notify) if prep.validation else None

        ledger.begin_submission(name, key, prep.spec.normalized(), prep.rendered.fingerprint)
        notify("creating", {"idempotency_key": key})
        try:
            job, adopted = self._create_adopting(adapter, file, prep.spec, key, vfile)
        except Exception as exc:
            from tuneport._retrying import is_transient

            if not is_transient(exc):
                # The provider refused the request itself: no job exists for this key.
                ledger.abandon_submission(name, key)
            raise
        if adopted:
            return self._adopted(name, key, job, notify)
        job = _with_key(job, key)
        ledger.complete_submission(name, key, job)
        notify("created", {"job_id": job.id, "idempotency_key": key})
        return job

    def _adopted(self, name: str, key: str, job: Job, notify: ProgressCallback) -> Job:
        job = _with_key(job, key)
        self.ledger.complete_submission(name, key, job)
        notify("adopted", {"job_id": job.id, "idempotency_key": key})
        return job

    def _create_adopting(
        self,
        adapter: Provider,
        file: RemoteFile,
        spec: FineTuneSpec,
        key: str,
        vfile: RemoteFile | None,
    ) -> tuple[Job, bool]:
        """Create the job; before every retry, adopt the job a lost attempt created."""
        for attempt in retrying(self.settings.retry, self._sleep):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    found = adapter.find_job(key)
                    if found is not None:
                        return found, True
                try:
                    return adapter.create_job(file, spec, key, validation_file=vfile), False
                except ConflictError:
                    # Fireworks answers 409 when a job with our chosen id exists already.
                    found = adapter.find_job(key)
                    if found is None:
                        raise
                    return found, True
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _upload(
        self, prep: _Prepared, rendered: RenderedDataset, notify: ProgressCallback
    ) -> RemoteFile:
        ledger, adapter, name = self.ledger, prep.adapter, prep.provider
        known = ledger.find_upload(name, rendered.fingerprint)
        if known is not None:
            file = RemoteFile(
                provider=name, id=known.remote_id, fingerprint=rendered.fingerprint,
                n_bytes=known.n_bytes,
            )
            try:
                ready = self._retry(lambda: adapter.wait_file_ready(file))
            except NotFoundError:
                # Deleted at the provider since: upload again.
                ledger.forget_upload(name, rendered.fingerprint)
            else:
                notify("upload_reused", {"file_id": ready.id, "bytes": rendered.n_bytes})
                return ready
        notify("uploading", {"bytes": rendered.n_bytes, "path": str(rendered.path)})
        file = self._retry(lambda: adapter.upload(rendered))
        ledger.record_upload(name, rendered.fingerprint, file.id, rendered.n_bytes)
        file = self._retry(lambda: adapter.wait_file_ready(file))
        notify("uploaded", {"file_id": file.id, "bytes": rendered.n_bytes})
        return file

    @contextmanager
    def _prepare(
        self,
        dataset: Any,
        *,
        provider: str | None,
        model: str,
        method: str,
        epochs: int | str | None,
        learning_rate: float | None = None,
        batch_size: int | str | None = None,
        lora_rank: int | None = None,
        suffix: str | None = None,
        validation: Any = None,
        wandb: WandbConfig | dict[str, Any] | None = None,
        provider_options: dict[str, Any] | None = None,
        notify: ProgressCallback | None = None,
    ) -> Iterator[_Prepared]:
        """Check, validate and render; the rendered files live while the block runs."""
        name = (provider or self.provider).lower()
        adapter = self.adapter(name)
        _check_method(adapter, method)
        if (provider_options or {}).get("devices") is not None and name in _HOSTED:
            raise UnsupportedFeatureError(
                f"devices= is for the local backend; {name} chooses its own hardware."
            )
        provider_model, canonical = _resolve_model(name, model, method)
        ds = as_dataset(dataset)
        _validate(ds, name, canonical or provider_model)
        vds = as_dataset(validation) if validation is not None else None
        if vds is not None:
            _validate(vds, name, canonical or provider_model, what="validation dataset")
        if notify is not None:
            notify("validated", {"provider": name, "model": provider_model})
        if isinstance(wandb, dict):
            wandb = WandbConfig(**wandb)
        spec = FineTuneSpec(
            model=provider_model,
            canonical_model=canonical,
            method=method,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            lora_rank=lora_rank,
            suffix=suffix,
            wandb=wandb,
            provider_options=dict(provider_options or {}),
        )
        with tempfile.TemporaryDirectory(prefix="tuneport-render-") as tmp:
            rendered = _render(ds, name, Path(tmp) / "train", provider_model)
            vrendered = (
                _render(vds, name, Path(tmp) / "validation", provider_model)
                if vds is not None else None
            )
            yield _Prepared(name, adapter, spec, rendered, vrendered)

    def quote(
        self,
        dataset: Any,
        *,
        model: str,
        method: str = "lora",
        epochs: int | str | None = None,
        provider: str | None = None,
        **options: Any,
    ) -> ProviderQuote:
        """Ask the provider's own estimate API (Together, Fireworks) to price a job.

        This uploads the dataset (once per content, like :meth:`fine_tune`); for an
        offline, catalog-based range use :meth:`estimate`.

        Raises:
            UnsupportedFeatureError: the provider has no estimate API (OpenAI).
        """
        with self._prepare(
            dataset, provider=provider, model=model, method=method, epochs=epochs, **options
        ) as prep:
            caps = prep.adapter.capabilities
            if caps and Capability.ESTIMATE_API not in caps:
                raise UnsupportedFeatureError(
                    f"{prep.provider} has no price-estimate API; use client.estimate(...) for "
                    "tuneport's catalog-based estimate."
                )
            file = self._upload(prep, prep.rendered, lambda stage, info: None)
            adapter, spec = prep.adapter, prep.spec
            return self._retry(lambda: adapter.quote(file, spec))

    def estimate(
        self,
        dataset: Any,
        *,
        model: str,
        method: str = "lora",
        epochs: int | Literal["auto"] | None = None,
        provider: str | None = None,
        **options: Any,
    ) -> CostEstimate:
        """tuneport's offline cost estimate (a range) for the provider; see :mod:`tuneport.cost`.

        Needs no network and no API key.
        """
        from tuneport import cost

        return cost.estimate(
            as_dataset(dataset), provider=(provider or self.provider).lower(), model=model,
            method=method, epochs=epochs, **options,
        )

    def compare(self, dataset: Any, *, model: str, **options: Any) -> Comparison:
        """Hosted vs self-hosted cost rows for ``model``; see :func:`tuneport.compare`."""
        from tuneport import cost

        return cost.compare(as_dataset(dataset), model=model, **options)

    # -- following ---------------------------------------------------------------------

    def get_job(self, job: JobRef) -> Job:
        """The job's current state from its provider (and recorded in the ledger)."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        fresh = self._retry(lambda: adapter.get_job(job_id))
        known = self.ledger.get_job(name, job_id)
        if known is not None and known.idempotency_key and not fresh.idempotency_key:
            fresh = _with_key(fresh, known.idempotency_key)
        self.ledger.save_job(fresh)
        return fresh

    def jobs(self, provider: str | None = None, *, refresh: bool = False) -> list[Job]:
        """Jobs in the ledger, newest first; ``refresh=True`` asks the providers for
        the current state of every job that has not ended."""
        found = self.ledger.jobs(provider.lower() if provider else None)
        if not refresh:
            return found
        return [job if job.is_terminal else self.get_job(job) for job in found]

    def events(self, job: JobRef, *, after: str | None = None) -> list[JobEvent]:
        """The job's events in chronological order (also stored in the ledger)."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        found = self._retry(lambda: adapter.events(job_id, after=after))
        self.ledger.save_events(name, found)
        return found

    def checkpoints(self, job: JobRef) -> list[Checkpoint]:
        """The job's checkpoints (empty where the provider keeps none)."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        return self._retry(lambda: adapter.checkpoints(job_id))

    def metrics(self, job: JobRef) -> list[MetricPoint]:
        """The job's training metrics by step (empty where the provider reports none)."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        return self._retry(lambda: adapter.metrics(job_id))

    def cancel(self, job: JobRef) -> Job:
        """Ask the provider to cancel the job; returns it as the provider then reports it."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        result = self._retry(lambda: adapter.cancel_job(job_id))
        self.ledger.save_job(result)
        return result

    def resume(self, job: JobRef) -> Job:
        """Resume an interrupted job from its last checkpoint (local backend)."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        result = adapter.resume_job(job_id)
        self.ledger.save_job(result)
        return result

    def wait(
        self,
        job: JobRef,
        *,
        timeout: float | None = None,
        poll: float | None = None,
        max_poll: float | None = None,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job ends; return it when it succeeded.

        Polls start every ``poll`` seconds (default 5) and back off by 1.5x up to
        ``max_poll`` (default 60) while nothing changes; a rate limit's Retry-After is
        honoured.

        Args:
            job: the job to follow.
            timeout: give up after this many seconds (the job itself goes on).
            poll: the first delay between polls.
            max_poll: the longest delay between polls.
            on_update: called with every snapshot polled.

        Raises:
            JobFailedError: the job failed or was cancelled (``.job`` has the snapshot).
            JobTimeoutError: ``timeout`` passed first (``.job`` has the last snapshot).
        """
        backoff = _backoff(poll, max_poll)
        start = self._clock()
        last = self._placeholder(job)
        delay = 0.0
        while True:
            if delay:
                self._sleep(_bounded_by_timeout(delay, start, self._clock(), timeout, last))
            try:
                fresh = self.get_job(last)
            except RateLimitError as exc:
                delay = backoff.next(retry_after=exc.retry_after)
                continue
            if _changed(last, fresh):
                backoff.reset()
            last = fresh
            if on_update is not None:
                on_update(fresh)
            if fresh.is_terminal:
                return _finished(fresh)
            delay = backoff.next()

    def _placeholder(self, job: JobRef) -> Job:
        if isinstance(job, Job):
            return job
        name, job_id = self._resolve(job)
        known = self.ledger.get_job(name, job_id)
        return known or Job(id=job_id, provider=name, status=JobStatus.UNKNOWN, provider_status="")

    # -- using the result --------------------------------------------------------------

    def endpoint(self, job: JobRef) -> ModelEndpoint:
        """How to call the fine-tuned model (creates nothing; see :meth:`deploy`).

        Raises:
            JobFailedError: the job failed or was cancelled.
            JobError: the job has not finished yet.
        """
        current = self._finished_job(job)
        adapter = self.adapter(current.provider)
        return self._retry(lambda: adapter.endpoint(current))

    def deploy(self, job: JobRef, **options: Any) -> ModelEndpoint:
        """Create what is needed to call the model (a dedicated deployment on Together
        and Fireworks; nothing on OpenAI). The endpoint says what it costs per hour."""
        current = self._finished_job(job)
        adapter = self.adapter(current.provider)
        return adapter.deploy(current, **options)

    def _finished_job(self, job: JobRef) -> Job:
        current = self.get_job(job)
        if current.status is JobStatus.SUCCEEDED:
            return current
        if current.is_terminal:
            raise JobFailedError(
                f"Job {current.provider}:{current.id} ended {current.status.value}; "
                "it produced no model to call.",
                current,
            )
        raise JobError(
            f"Job {current.provider}:{current.id} is {current.status.value}; the model can be "
            "called once it has succeeded (use client.wait(job) first).",
            current,
        )

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close every adapter's network client."""
        with self._lock:
            adapters = list(self._adapters.values())
            self._adapters.clear()
        for adapter in adapters:
            adapter.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """:class:`Client` for ``asyncio``: the same methods, awaitable.

    Adapters are synchronous (the official SDKs' sync clients); each call runs in a worker
    thread, so several jobs (e.g. one dataset to several providers) go out concurrently::

        async with tuneport.AsyncClient() as client:
            jobs = await asyncio.gather(*(
                client.fine_tune(ds, model="llama-3.1-8b-instruct", provider=p)
                for p in ("together", "fireworks")
            ))

    Takes the same arguments as :class:`Client`.
    """

    def __init__(self, provider: str | None = None, **kwargs: Any) -> None:
        self.sync = Client(provider, **kwargs)

    def __repr__(self) -> str:
        return f"Async{self.sync!r}"

    @property
    def settings(self) -> Settings:
        """The resolved settings."""
        return self.sync.settings

    @property
    def ledger(self) -> Ledger:
        """The job ledger under ``TUNEPORT_HOME``."""
        return self.sync.ledger

    async def fine_tune(
        self, dataset: Any, *, model: str, wait: bool = False, **kwargs: Any
    ) -> Job:
        """See :meth:`Client.fine_tune`."""
        job = await asyncio.to_thread(self.sync.fine_tune, dataset, model=model, **kwargs)
        if wait:
            return await self.wait(job)
        return job

    async def quote(self, dataset: Any, *, model: str, **kwargs: Any) -> ProviderQuote:
        """See :meth:`Client.quote`."""
        return await asyncio.to_thread(self.sync.quote, dataset, model=model, **kwargs)

    async def estimate(self, dataset: Any, *, model: str, **kwargs: Any) -> CostEstimate:
        """See :meth:`Client.estimate`."""
        return await asyncio.to_thread(self.sync.estimate, dataset, model=model, **kwargs)

    async def compare(self, dataset: Any, *, model: str, **kwargs: Any) -> Comparison:
        """See :meth:`Client.compare`."""
        return await asyncio.to_thread(self.sync.compare, dataset, model=model, **kwargs)

    async def get_job(self, job: JobRef) -> Job:
        """See :meth:`Client.get_job`."""
        return await asyncio.to_thread(self.sync.get_job, job)

    async def jobs(self, provider: str | None = None, *, refresh: bool = False) -> list[Job]:
        """See :meth:`Client.jobs`."""
        return await asyncio.to_thread(self.sync.jobs, provider, refresh=refresh)

    async def events(self, job: JobRef, *, after: str | None = None) -> list[JobEvent]:
        """See :meth:`Client.events`."""
        return await asyncio.to_thread(self.sync.events, job, after=after)

    async def checkpoints(self, job: JobRef) -> list[Checkpoint]:
        """See :meth:`Client.checkpoints`."""
        return await asyncio.to_thread(self.sync.checkpoints, job)

    async def metrics(self, job: JobRef) -> list[MetricPoint]:
        """See :meth:`Client.metrics`."""
        return await asyncio.to_thread(self.sync.metrics, job)

    async def cancel(self, job: JobRef) -> Job:
        """See :meth:`Client.cancel`."""
        return await asyncio.to_thread(self.sync.cancel, job)

    async def resume(self, job: JobRef) -> Job:
        """See :meth:`Client.resume`."""
        return await asyncio.to_thread(self.sync.resume, job)

    async def endpoint(self, job: JobRef) -> ModelEndpoint:
        """See :meth:`Client.endpoint`."""
        return await asyncio.to_thread(self.sync.endpoint, job)

    async def deploy(self, job: JobRef, **options: Any) -> ModelEndpoint:
        """See :meth:`Client.deploy`."""
        return await asyncio.to_thread(self.sync.deploy, job, **options)

    async def wait(
        self,
        job: JobRef,
        *,
        timeout: float | None = None,
        poll: float | None = None,
        max_poll: float | None = None,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """See :meth:`Client.wait`; sleeps with ``asyncio.sleep`` between polls."""
        backoff = _backoff(poll, max_poll)
        loop = asyncio.get_running_loop()
        start = loop.time()
        last = await asyncio.to_thread(self.sync._placeholder, job)
        delay = 0.0
        while True:
            if delay:
                await asyncio.sleep(_bounded_by_timeout(delay, start, loop.time(), timeout, last))
            try:
                fresh = await self.get_job(last)
            except RateLimitError as exc:
                delay = backoff.next(retry_after=exc.retry_after)
                continue
            if _changed(last, fresh):
                backoff.reset()
            last = fresh
            if on_update is not None:
                on_update(fresh)
            if fresh.is_terminal:
                return _finished(fresh)
            delay = backoff.next()

    async def close(self) -> None:
        """Close every adapter's network client."""
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# -- helpers -------------------------------------------------------------------------------


def _with_key(job: Job, key: str) -> Job:
    return job if job.idempotency_key == key else job.model_copy(update={"idempotency_key": key})


def _changed(before: Job, after: Job) -> bool:
    return before.status != after.status or before.progress != after.progress


def _backoff(poll: float | None, max_poll: float | None) -> PollBackoff:
    initial = DEFAULT_POLL if poll is None else poll
    cap = max_poll if max_poll is not None else max(DEFAULT_MAX_POLL, initial)
    return PollBackoff(initial=initial, cap=cap)


def _bounded_by_timeout(
    delay: float, start: float, now: float, timeout: float | None, job: Job
) -> float:
    if timeout is None:
        return delay
    remaining = timeout - (now - start)
    if remaining <= 0:
        raise JobTimeoutError(
            f"Job {job.provider}:{job.id} is still {job.status.value} after {timeout:g} s; "
            "it goes on at the provider (wait again, or cancel it).",
            job,
        )
    return min(delay, remaining)


def _finished(job: Job) -> Job:
    if job.status is JobStatus.SUCCEEDED:
        return job
    detail = ""
    if job.error is not None:
        code = f"{job.error.code}: " if job.error.code else ""
        detail = f": {code}{job.error.message}"
    raise JobFailedError(
        f"Job {job.provider}:{job.id} ended {job.status.value} "
        f"(provider status {job.provider_status!r}){detail}",
        job,
    )


def _check_method(adapter: Provider, method: str) -> None:
    needed = _METHOD_CAPABILITY.get(method)
    if needed is None:
        raise UnsupportedFeatureError(
            f"Unknown method {method!r}; choose one of {', '.join(_METHOD_CAPABILITY)}."
        )
    if adapter.capabilities and needed not in adapter.capabilities:
        offered = [m for m, cap in _METHOD_CAPABILITY.items() if cap in adapter.capabilities]
        raise UnsupportedFeatureError(
            f"{adapter.name} does not offer method {method!r}; it offers: "
            f"{', '.join(offered) or 'none'}."
        )


def _resolve_model(provider: str, model: str, method: str) -> tuple[str, str | None]:
    """(provider's model id, canonical name) from the catalog; warns about wind-downs.

    Providers the catalog does not cover (the local backend, plugins) take the name as is.
    """
    try:
        from tuneport.catalog import load_catalog
    except ImportError:  # the catalog package is not there (a trimmed install)
        return model, None
    catalog = load_catalog()
    try:
        provider_catalog = catalog.provider(provider)
    except UnknownProviderError:
        return model, None
    entry = catalog.resolve_model(provider, model)
    from tuneport.catalog import method_key

    reason = (getattr(entry, "unsupported", None) or {}).get(method_key(method))
    if reason:
        raise UnsupportedFeatureError(f"{provider} / {entry.id}, method {method!r}: {reason}")
    _warn_availability(provider, provider_catalog, entry)
    return str(entry.id), getattr(entry, "canonical", None)


def _warn_availability(provider: str, provider_catalog: Any, entry: Any) -> None:
    """Surface the catalog's availability dates (e.g. OpenAI's self-serve wind-down)."""
    until = getattr(entry, "training_available_until", None)
    shutdown = getattr(entry, "shutdown_date", None)
    if until is None and shutdown is None:
        return
    today = date.today()
    parts = []
    if isinstance(until, date):
        verb = "accepted" if until < today else "accepts"
        parts.append(f"{provider} {verb} new fine-tuning jobs on {entry.id} only until {until}")
    if isinstance(shutdown, date):
        parts.append(f"the base model shuts down on {shutdown}")
    note = getattr(provider_catalog, "availability_note", None)
    warnings.warn(
        "; ".join(parts) + "." + (f" {note}" if note else ""),
        ProviderAvailabilityWarning,
        # user -> fine_tune/quote -> contextlib -> _prepare -> _resolve_model -> here
        stacklevel=6,
    )


class ProviderAvailabilityWarning(UserWarning):
    """A provider or model has an announced end date (e.g. OpenAI's fine-tuning wind-down)."""


def as_dataset(data: Any) -> Any:
    """A :class:`tuneport.Dataset` from a Dataset, a path, or a list of records."""
    if hasattr(data, "validate") and hasattr(data, "render"):
        return data  # a tuneport.Dataset, or anything with its interface
    from tuneport.dataset import Dataset

    if isinstance(data, str | os.PathLike):
        path = Path(data).expanduser()
        if not path.exists():
            raise DatasetError(f"Dataset file {path} does not exist.")
        return Dataset.from_jsonl(path)
    if isinstance(data, Sequence) and not isinstance(data, bytes | bytearray):
        return Dataset.from_records(list(data))
    raise DatasetError(
        f"Cannot use a {type(data).__name__} as a dataset: pass a tuneport.Dataset, "
        "a path to a JSONL file, or a list of records."
    )


def _validate(ds: Any, provider: str, model: str, what: str = "dataset") -> None:
    try:
        report = ds.validate(targets=(provider,), model=model)
        known_target = True
    except UnknownProviderError:
        # A plugin provider the dataset rules do not know: the generic rules still apply.
        report = ds.validate(targets=())
        known_target = False
    errors = [
        i for i in getattr(report, "issues", []) if str(getattr(i, "severity", "")) == "error"
    ]
    ok = report.ok_for(provider) if known_target and hasattr(report, "ok_for") else not errors
    if ok:
        return
    if known_target and hasattr(report, "errors_for"):
        errors = list(report.errors_for(provider))
    shown = "; ".join(_issue_text(i) for i in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    raise ValidationFailedError(
        f"The {what} has {len(errors) or 'some'} error(s) for {provider}: {shown}{more}. "
        f"Nothing was uploaded; run `tuneport validate FILE --provider {provider}` for the "
        "full report.",
        report,
    )


def _issue_text(issue: Any) -> str:
    line = getattr(issue, "line", None)
    where = f"line {line}: " if line is not None else ""
    return f"{where}{getattr(issue, 'code', '')} {getattr(issue, 'message', issue)}".strip()


def _render(ds: Any, provider: str, folder: Path, model: str) -> RenderedDataset:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        rendered: RenderedDataset = ds.render(provider, folder, model=model)
    except UnknownProviderError:
        # A plugin provider: hand it OpenAI-style chat JSONL, the de facto common format.
        rendered = ds.render("openai", folder).model_copy(update={"provider": provider})
    return rendered
