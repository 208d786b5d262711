"""The client: everything convenient about fine-tuning lives here, not in the adapters.

:class:`Client` validates, renders, uploads (once per content and provider), creates jobs
with an idempotency key, retries transient failures after looking for the job a lost
request may have created, records everything in the ledger, and waits with backoff.
The steps live in small modules: :mod:`tuneport.client.preparing` (validate, resolve the
model, render), :mod:`tuneport.client.submission` (upload and create exactly once),
:mod:`tuneport.client.job_refs` (what ``"together:ft-1"`` means), :mod:`tuneport.client.waiting`
(polling with backoff) and :mod:`tuneport.client.async_client` (:class:`AsyncClient`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import ValidationError

from tuneport._config import RetryPolicy, Settings, invalid_argument, load_settings
from tuneport._exceptions import (
    BadRequestError,
    ConfigError,
    ConflictError,
    JobError,
    JobFailedError,
    UnsupportedFeatureError,
)
from tuneport._models import (
    Capability,
    Checkpoint,
    EndpointState,
    Job,
    JobEvent,
    JobStatus,
    MetricPoint,
    ModelEndpoint,
    WandbConfig,
)
from tuneport.client.async_client import AsyncClient
from tuneport.client.deployments import Deployer
from tuneport.client.job_refs import JobRef, resolve_job_ref
from tuneport.client.preparing import (
    ProgressCallback,
    ProviderAvailabilityWarning,
    as_dataset,
    prepare,
)
from tuneport.client.retrying import retrying
from tuneport.client.submission import Submitter, derive_idempotency_key, with_key
from tuneport.client.waiting import (
    endpoint_following,
    follow,
    job_following,
    ready_or_raise,
    succeeded_or_raise,
)
from tuneport.ledger import EvalStore, Ledger

if TYPE_CHECKING:
    from tuneport.cost import Comparison, CostEstimate
    from tuneport.evaluate import EvalReport, Metric
    from tuneport.providers.base import Provider, ProviderQuote

__all__ = [
    "AsyncClient",
    "Client",
    "JobRef",
    "ProviderAvailabilityWarning",
    "derive_idempotency_key",
]

T = TypeVar("T")


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
        if isinstance(retry, int) and not isinstance(retry, bool):
            try:
                retry = RetryPolicy(attempts=retry)
            except ValidationError as exc:
                raise invalid_argument(exc, "Client(retry=...)") from None
        elif retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigError(
                f"Client(retry=...) takes a whole number of attempts or a tuneport.RetryPolicy, "
                f"not a {type(retry).__name__}."
            )
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
        self._deployments: Deployer | None = None
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
                "No provider selected. Pass provider=... (openai, together, fireworks, local; "
                "--provider on the command line), set TUNEPORT_PROVIDER, or set provider in "
                "tuneport.toml."
            )
        return self.settings.provider

    @property
    def ledger(self) -> Ledger:
        """The job ledger under ``TUNEPORT_HOME``."""
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger.in_home(self.settings.home)
                _owner_only(Path(self.settings.home).expanduser(), self._ledger.path)
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
        # Retries are per request, also for the requests inside one adapter call.
        built.request_attempts = self.settings.retry.attempts
        bind_home = getattr(built, "bind_home", None)
        if callable(bind_home):  # the local backend keeps runs and files under the home
            bind_home(self.settings.home)
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
        return resolve_job_ref(job, self.ledger, self.settings.provider)

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
        beta: float | None = None,
        suffix: str | None = None,
        validation: Any = None,
        wait: bool = False,
        idempotency_key: str | None = None,
        new: bool = False,
        wandb: WandbConfig | dict[str, Any] | None = None,
        devices: int | str | None = None,
        provider: str | None = None,
        on_progress: ProgressCallback | None = None,
        allow_overlap: bool = False,
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
            beta: DPO's beta (``dpo-lora``/``dpo-full`` only): how strongly the trained
                model is held near the reference model; the provider's default when None.
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
                ``adopted``, ``existing``, and ``waiting_for_lock`` while another process
                submits the same thing); the CLI uses it for its progress display.
            allow_overlap: train even on examples held out for evaluation (by
                :meth:`Dataset.split` or an earlier :meth:`evaluate`); refused by default.
            **provider_options: provider-only fields passed through to the provider.

        Raises:
            ValidationFailedError: the dataset has errors for this provider (nothing uploaded).
            UnknownModelError: the model is not in the provider's catalog.
            UnsupportedFeatureError: the provider cannot do the method or a parameter.
            ProviderError: the provider refused, after tuneport's retries.
        """
        if new and idempotency_key is not None:
            raise ConfigError("Pass either idempotency_key=... or new=True, not both.")
        from tuneport.client.evaluating import check_heldout_overlap

        check_heldout_overlap(EvalStore(self.ledger.path), dataset, allow_overlap=allow_overlap)
        notify = on_progress or (lambda stage, info: None)
        if devices is not None:
            provider_options["devices"] = devices
        name = (provider or self.provider).lower()
        with prepare(
            name, self.adapter(name), dataset, model=model, method=method, epochs=epochs,
            learning_rate=learning_rate, batch_size=batch_size, lora_rank=lora_rank,
            beta=beta, suffix=suffix, validation=validation, wandb=wandb,
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
                job = self._submitter().submit(prep, key, notify)
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

    def _submitter(self) -> Submitter:
        return Submitter(
            self.ledger, self.settings.retry, self._sleep, self.get_job, clock=self._clock
        )

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
        name = (provider or self.provider).lower()
        with prepare(
            name, self.adapter(name), dataset, model=model, method=method, epochs=epochs,
            **options,
        ) as prep:
            caps = prep.adapter.capabilities
            if caps and Capability.ESTIMATE_API not in caps:
                raise UnsupportedFeatureError(
                    f"{prep.provider} has no price-estimate API; use client.estimate(...) for "
                    "tuneport's catalog-based estimate."
                )
            file = self._submitter().upload(prep, prep.rendered, lambda stage, info: None)
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

        # Measured local runs are read from this client's home, like its ledger and runs.
        options.setdefault("home", self.settings.home)
        return cost.estimate(
            as_dataset(dataset), provider=(provider or self.provider).lower(), model=model,
            method=method, epochs=epochs, **options,
        )

    def compare(self, dataset: Any, *, model: str, **options: Any) -> Comparison:
        """Hosted vs self-hosted cost rows for ``model``; see :func:`tuneport.compare`."""
        from tuneport import cost

        options.setdefault("home", self.settings.home)
        return cost.compare(as_dataset(dataset), model=model, **options)

    # -- following ---------------------------------------------------------------------

    def get_job(self, job: JobRef) -> Job:
        """The job's current state from its provider (and recorded in the ledger)."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        fresh = self._retry(lambda: adapter.get_job(job_id))
        # Records are kept per base URL and account: another account's job with this id
        # is another job.
        scope = adapter.ledger_scope
        known = self.ledger.get_job(name, job_id, scope=scope)
        if known is not None and known.idempotency_key and not fresh.idempotency_key:
            fresh = with_key(fresh, known.idempotency_key)
        self.ledger.save_job(fresh, scope=scope)
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
        self.ledger.save_events(name, found, scope=adapter.ledger_scope)
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
        """Ask the provider to cancel the job; returns it as the provider then reports it.

        A job that has already ended is returned as it is (providers refuse to cancel it
        with 400/409), so cancelling twice is harmless.
        """
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        try:
            result = self._retry(lambda: adapter.cancel_job(job_id))
        except (BadRequestError, ConflictError):
            current = self.get_job(f"{name}:{job_id}")
            if not current.is_terminal:
                raise
            return current
        self.ledger.save_job(result, scope=adapter.ledger_scope)
        return result

    def resume(self, job: JobRef) -> Job:
        """Resume an interrupted job from its last checkpoint (local backend)."""
        name, job_id = self._resolve(job)
        adapter = self.adapter(name)
        result = adapter.restart_job(job_id)
        self.ledger.save_job(result, scope=adapter.ledger_scope)
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
        following = job_following(
            self._last_known(job), start=self._clock(), timeout=timeout, poll=poll,
            max_poll=max_poll,
        )
        done = follow(
            following, self.get_job, sleep=self._sleep, clock=self._clock, on_update=on_update
        )
        return succeeded_or_raise(done)

    def _last_known(self, job: JobRef) -> Job:
        """What the ledger knows of ``job`` (no request), to compare the first poll with."""
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
        self._deployer.warn_overdue()
        return self._deployer.annotate(
            self._endpoint_of(current), current, self.adapter(current.provider)
        )

    def evaluate(
        self,
        job_or_endpoint: JobRef | ModelEndpoint | tuple[str, str],
        heldout: Any,
        *,
        baseline: str | ModelEndpoint | tuple[str, str] = "base",
        metrics: Sequence[str | Metric] | None = None,
        judge: Any = None,
        regression: Any = None,
        max_examples: int | None = None,
        concurrency: int = 8,
        seed: int = 0,
        margin: float = 0.1,
        max_tokens: int = 256,
        on_progress: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> EvalReport:
        """Base vs fine-tuned on held-out data: did the fine-tune help, what did it break?

        Both models answer every held-out prompt (greedy); each reply is scored against
        the example's last assistant turn. Replies are cached in the ledger, so running
        again, or with another metric, sends no request.

        Args:
            job_or_endpoint: a succeeded job (or its reference), a :class:`ModelEndpoint`,
                or an OpenAI-compatible ``(base_url, model)``.
            heldout: the held-out examples (a :class:`Dataset`, a JSONL path or records);
                recorded in the ledger so later training data containing them is refused.
            baseline: ``"base"`` (the job's base model served the same way: local without
                the adapter, OpenAI's base model, Together/Fireworks' serverless base where
                the catalog has one), a model id at the same API, a
                :class:`ModelEndpoint`, or ``(base_url, model)``.
            metrics: metric names (``exact_match``, ``contains``, ``token_f1``, ``rouge_l``,
                ``chrf``, ``json_valid``, ``json_schema[:FILE]``, ``regex:PATTERN``,
                ``tool_call_match``, ``judge``) or :class:`tuneport.evaluate.Metric`
                objects; default from the data (tool calls, JSON, else token_f1 + rouge_l).
            judge: the pairwise judge (a :class:`tuneport.evaluate.Judge`, an endpoint,
                ``(base_url, model)`` or ``"URL#MODEL"``); adds the ``judge`` metric.
            regression: a general-capability set (JSONL) run through both models to catch
                forgetting (``examples/data/general.jsonl`` is a small one).
            max_examples: evaluate only the first N held-out examples.
            concurrency: requests in flight at once (hosted endpoints; each provider is
                also held to its own request rate).
            seed: the bootstrap's seed.
            margin: how much worse (on a 0-1 score) an example must be to count as a
                regression.
            max_tokens: the longest reply asked for.
            on_progress: ``(event, info)`` callback: ``estimate`` before anything is
                sent, ``progress`` after each reply, ``done`` at the end
                (:class:`tuneport.evaluate.ProgressPrinter` prints them).

        Raises:
            ConfigError: an unknown metric, ``baseline="base"`` where the provider has no
                serverless base, or an endpoint that is not deployed.
            DatasetError: held-out examples without an assistant reply to compare with.
        """
        from tuneport.client.evaluating import evaluate

        return evaluate(self, job_or_endpoint, heldout, baseline=baseline, metrics=metrics,
                        judge=judge, regression=regression, max_examples=max_examples,
                        concurrency=concurrency, seed=seed, margin=margin,
                        max_tokens=max_tokens, on_progress=on_progress)

    def deploy(
        self,
        job: JobRef,
        *,
        wait: bool = False,
        timeout: float | None = None,
        poll: float | None = None,
        stop_after: timedelta | None = None,
        **options: Any,
    ) -> ModelEndpoint:
        """Create what is needed to call the model and return its endpoint.

        Together and Fireworks serve a fine-tuned LoRA only on a dedicated deployment,
        billed while it is up (``hourly_usd`` says how much) until :meth:`undeploy`;
        OpenAI (serverless) and the local backend (``tuneport serve``) need nothing.
        Deploying again returns the same deployment. The ledger records it (intent first),
        so :meth:`endpoints` lists it and a deploy that failed half-way is either cleaned
        up or still listed.

        Args:
            job: a succeeded job.
            wait: block until the deployment is ready (it takes minutes at the provider).
            timeout: with ``wait``, give up after this many seconds (the deployment goes on).
            poll: with ``wait``, the first delay between polls (default 5 s, backing off to 60).
            stop_after: a deadline from now; past it, every endpoint command warns and
                :meth:`stop_expired` (``tuneport endpoints --stop-expired``) stops it.
            **options: the adapter's deployment options (replicas, hardware, Together's
                ``config`` ...).

        Raises:
            JobFailedError: the job failed or was cancelled.
            JobError: the job has not finished yet.
            JobTimeoutError: ``timeout`` passed before the deployment was ready.
            ProviderError: the deployment failed.
        """
        current, endpoint = self._start_deployment(job, options, stop_after)
        if not wait or endpoint.state is EndpointState.READY or endpoint.kind != "dedicated":
            # Only a dedicated deployment comes up by itself; a local model is served by
            # `tuneport serve` (or answers in-process), so there is nothing to wait for.
            return endpoint
        following = endpoint_following(
            current, endpoint, start=self._clock(), timeout=timeout, poll=poll, max_poll=None
        )
        done = follow(
            following, lambda _: self._endpoint_of(current), sleep=self._sleep, clock=self._clock
        )
        return ready_or_raise(current, self._deployer.observed(current, done))

    def _start_deployment(self, job: JobRef, options: dict[str, Any],
                          stop_after: timedelta | None = None) -> tuple[Job, ModelEndpoint]:
        return self._deployer.start(job, options, stop_after)

    def undeploy(self, job: JobRef) -> ModelEndpoint:
        """Stop what :meth:`deploy` started and return the endpoint, ``not_deployed``.

        Calling it again is harmless. OpenAI and the local backend start nothing billed by
        the hour: there it returns the endpoint as it is, with a note saying so.
        """
        return self._deployer.stop(job)

    def endpoints(self, *, refresh: bool = True) -> list[ModelEndpoint]:
        """Every deployment this ledger started that is not stopped.

        Each with its provider, model, ``deployment_id``, ``state`` (asked of the provider
        unless ``refresh=False``), ``hourly_usd``, ``deployed_at``, ``stop_at`` and
        ``accrued_usd`` (the cost so far). One stopped outside tuneport drops out.
        """
        return self._deployer.listing(refresh=refresh)

    def stop_expired(self) -> list[ModelEndpoint]:
        """Stop every deployment past its ``stop_after`` deadline; return what was stopped."""
        return self._deployer.stop_expired()

    @property
    def _deployer(self) -> Deployer:
        with self._lock:
            if self._deployments is None:
                self._deployments = Deployer(self)
            return self._deployments

    def _endpoint_of(self, job: Job) -> ModelEndpoint:
        adapter = self.adapter(job.provider)
        return self._retry(lambda: adapter.endpoint(job))

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


def _owner_only(home: Path, ledger: Path) -> None:
    """The home 0700 and the ledger (with its WAL files) 0600, whatever the umask.

    The ledger names every dataset, job and deployment; the home holds copies of data.
    """
    for path, mode in ((home, 0o700), (ledger, 0o600),
                       (ledger.with_name(ledger.name + "-wal"), 0o600),
                       (ledger.with_name(ledger.name + "-shm"), 0o600)):
        with contextlib.suppress(OSError):  # a missing WAL file, a read-only mount
            if path.exists() and path.stat().st_mode & 0o777 != mode and (
                    path is not home or _may_tighten(home)):
                os.chmod(path, mode)


def _may_tighten(folder: Path) -> bool:
    """Never chmod a shared folder used as the home (``/tmp``: sticky; another user's; the
    user's own home; the root); the ledger in it is 0600 anyway."""
    st = folder.stat()
    if st.st_mode & 0o1000 or st.st_uid != os.getuid():
        return False
    resolved = folder.resolve()
    return resolved not in (Path.home().resolve(), Path(resolved.anchor))
