"""The endpoint lifecycle for every backend: deploy, undeploy, list, stop what is overdue.

What bills by the hour is recorded in the ledger (:mod:`tuneport.ledger._deployments`)
like a job: the intent before the provider is asked, the answer after, and a deploy that
fails half-way either left nothing (the record is dropped) or left something the provider
still lists (the record stays, so :meth:`Client.undeploy` and :meth:`Client.endpoints` see
it). Backends that start nothing billed by the hour (OpenAI serverless, the local backend)
are not recorded: their undeploy is a no-op that says so.

Every call that touches an endpoint warns (:class:`EndpointOverdueWarning`) about each
recorded deployment past its ``stop_after`` deadline or up for more than a day.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tuneport._exceptions import ConfigError, TuneportError
from tuneport._models import Capability, EndpointState, Job, ModelEndpoint
from tuneport.ledger._deployments import DeploymentBook, DeploymentRecord

if TYPE_CHECKING:
    from tuneport.client.client import Client
    from tuneport.client.job_refs import JobRef
    from tuneport.providers.base import Provider

__all__ = ["MAX_AGE", "Deployer", "EndpointOverdueWarning", "parse_duration"]

#: A deployment up longer than this gets a warning even without a deadline.
MAX_AGE = timedelta(days=1)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class EndpointOverdueWarning(UserWarning):
    """A deployment tuneport started is past its ``stop_after`` deadline or up over a day."""


def parse_duration(text: str) -> timedelta:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"45s"``, ``"1d"`` (or plain seconds) as a timedelta.

    Raises:
        ConfigError: the text is not a duration.
    """
    import re

    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return timedelta(seconds=float(cleaned))
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ConfigError(
            f"{text!r} is not a duration; write it like 2h, 90m, 1h30m, 45s or 1d."
        )
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Deployer:
    """Deploy, undeploy and list for one :class:`Client`, with the ledger's records.

    Args:
        client: the client whose adapters, ledger and retry policy are used.
        now: the wall clock (swappable so tests can move past a deadline).
    """

    def __init__(self, client: Client, now: Callable[[], datetime] | None = None) -> None:
        self.client = client
        # Looked up at each call, so the module's clock can be swapped (tests of deadlines).
        self.now: Callable[[], datetime] = now or (lambda: _utcnow())
        self._book: DeploymentBook | None = None

    @property
    def book(self) -> DeploymentBook:
        """The ledger's deployments table."""
        if self._book is None:
            self._book = DeploymentBook(self.client.ledger.path)
        return self._book

    # -- deploy ------------------------------------------------------------------------

    def start(self, job: JobRef, options: dict[str, Any],
              stop_after: timedelta | None) -> tuple[Job, ModelEndpoint]:
        """Deploy a succeeded job's model (idempotent); return the job and its endpoint."""
        if stop_after is not None and stop_after <= timedelta(0):
            raise ConfigError("stop_after must be a positive duration (e.g. timedelta(hours=2)).")
        current = self.client._finished_job(job)
        adapter = self.client.adapter(current.provider)
        self.warn_overdue()
        if not _bills_hourly(adapter):
            return current, self.client._retry(lambda: adapter.deploy(current, **options))
        scope = adapter.ledger_scope
        with self.client._key_lock(current.provider, f"deploy:{scope}:{current.id}"):
            self.book.begin(scope, _base_url(adapter), current, now=self.now(),
                            stop_after=stop_after)
            try:
                # Retried like any request: the adapter's deploy finds what an earlier try
                # made (names derive from the job), so a retry adopts, never duplicates.
                endpoint = self.client._retry(lambda: adapter.deploy(current, **options))
            except BaseException:
                self._after_failed_deploy(adapter, scope, current)
                raise
            self.book.created(scope, endpoint, current, now=self.now())
        return current, self.annotate(endpoint, current, adapter)

    def _after_failed_deploy(self, adapter: Provider, scope: str, job: Job) -> None:
        """Keep the record when something is left at the provider, drop it otherwise."""
        try:
            there = adapter.endpoint(job)
        except Exception:  # cannot tell: keep the record, endpoints() shows it
            return
        if there.state is EndpointState.NOT_DEPLOYED:
            self.book.abandon(scope, job)
        else:
            self.book.created(scope, there, job, now=self.now())

    def observed(self, job: Job, endpoint: ModelEndpoint) -> ModelEndpoint:
        """Record what a poll saw and return the endpoint with the ledger's fields."""
        adapter = self.client.adapter(job.provider)
        if not _bills_hourly(adapter):
            return endpoint
        with contextlib.suppress(TuneportError):
            self.book.observed(adapter.ledger_scope, endpoint, job, now=self.now())
        return self.annotate(endpoint, job, adapter)

    def annotate(self, endpoint: ModelEndpoint, job: Job, adapter: Provider) -> ModelEndpoint:
        """``endpoint`` with the job id, deployment time, deadline and cost so far."""
        if not _bills_hourly(adapter):
            return endpoint
        record = self.book.get(job.provider, adapter.ledger_scope, job.id)
        return _annotated(endpoint, record, self.now()) if record else endpoint

    # -- undeploy ----------------------------------------------------------------------

    def stop(self, job: JobRef) -> ModelEndpoint:
        """Stop what :meth:`start` started; harmless when nothing is deployed."""
        current = self.client.get_job(job)
        adapter = self.client.adapter(current.provider)
        self.warn_overdue(skip=(current.provider, current.id))
        return self._stop(adapter, current)

    def _stop(self, adapter: Provider, job: Job) -> ModelEndpoint:
        endpoint = self.client._retry(lambda: adapter.undeploy(job))
        if _bills_hourly(adapter) and endpoint.state is EndpointState.NOT_DEPLOYED:
            self.book.stopped(adapter.ledger_scope, job, now=self.now(), endpoint=endpoint)
            record = self.book.get(job.provider, adapter.ledger_scope, job.id)
            if record is not None:
                endpoint = _annotated(endpoint, record, self.now())
        return endpoint

    def stop_expired(self) -> list[ModelEndpoint]:
        """Stop every recorded deployment past its ``stop_after`` deadline."""
        now = self.now()
        stopped = []
        for record in self.book.records():
            if record.stop_at is None or now < record.stop_at:
                continue
            adapter = self._adapter_for(record)
            if adapter is None:
                warnings.warn(EndpointOverdueWarning(
                    f"The {record.provider} deployment of job {record.job_id} is past its "
                    f"deadline but was started at {record.base_url or 'another place'} "
                    "(another base URL or account than configured now): stop it there."),
                    stacklevel=2)
                continue
            stopped.append(self._stop(adapter, record.job))
        self.warn_overdue()
        return stopped

    # -- listing -----------------------------------------------------------------------

    def listing(self, *, refresh: bool = True) -> list[ModelEndpoint]:
        """Every deployment this ledger started that is not stopped, with its state."""
        out = []
        for record in self.book.records():
            endpoint = record.endpoint or _placeholder(record)
            adapter = self._adapter_for(record) if refresh else None
            if adapter is not None:
                try:
                    endpoint = adapter.endpoint(record.job)
                except TuneportError:
                    pass  # the provider cannot be asked now: the last known state
                else:
                    if (endpoint.state is EndpointState.NOT_DEPLOYED
                            and record.state == "created"):
                        # Stopped outside tuneport (console, another tool): nothing bills.
                        self.book.stopped(record.scope, record.job, now=self.now())
                        continue
                    self.book.observed(record.scope, endpoint, record.job, now=self.now())
            fresh = self.book.get(record.provider, record.scope, record.job_id) or record
            out.append(_annotated(endpoint, fresh, self.now()))
        self.warn_overdue()
        return out

    def _adapter_for(self, record: DeploymentRecord) -> Provider | None:
        """The configured adapter when it points where the record was made, else None."""
        try:
            adapter = self.client.adapter(record.provider)
        except TuneportError:
            return None
        return adapter if adapter.ledger_scope == record.scope else None

    # -- warnings ----------------------------------------------------------------------

    def warn_overdue(self, *, skip: tuple[str, str] | None = None) -> None:
        """Warn once per recorded deployment past its deadline or up over :data:`MAX_AGE`."""
        now = self.now()
        for record in self.book.records():
            if skip == (record.provider, record.job_id):
                continue
            reason = record.overdue(now, max_age=MAX_AGE)
            if reason is None:
                continue
            cost = record.accrued_usd(now)
            hourly = (f"${record.hourly_usd}/hour" if record.hourly_usd is not None
                      else "by the hour")
            so_far = f", ${cost} so far" if cost is not None else ""
            warnings.warn(EndpointOverdueWarning(
                f"The {record.provider} deployment of job {record.job_id} "
                f"({record.model or record.deployment_id or 'dedicated endpoint'}) is {reason}; "
                f"it bills {hourly}{so_far}. Stop it: tuneport endpoint "
                f"{record.provider}:{record.job_id} --stop (or tuneport endpoints "
                "--stop-expired)."), stacklevel=3)


def _bills_hourly(adapter: Provider) -> bool:
    return Capability.DEPLOY in adapter.capabilities


def _base_url(adapter: Provider) -> str:
    return str(getattr(adapter, "base_url", "") or "")


def _annotated(endpoint: ModelEndpoint, record: DeploymentRecord, now: datetime) -> ModelEndpoint:
    hourly = endpoint.hourly_usd if endpoint.hourly_usd is not None else record.hourly_usd
    priced = record if hourly == record.hourly_usd else _with_price(record, hourly)
    return endpoint.model_copy(update={
        "job_id": record.job_id, "deployed_at": record.deployed_at, "stop_at": record.stop_at,
        "hourly_usd": hourly, "accrued_usd": priced.accrued_usd(now),
        "api_key": endpoint.api_key,
    })


def _with_price(record: DeploymentRecord, hourly: Any) -> DeploymentRecord:
    from dataclasses import replace

    return replace(record, hourly_usd=hourly)


def _placeholder(record: DeploymentRecord) -> ModelEndpoint:
    """What is known of a deployment whose create never answered (state unknown: deploying)."""
    return ModelEndpoint(
        provider=record.provider, model=record.model or "", base_url=record.base_url,
        kind="dedicated", state=EndpointState.DEPLOYING, deployment_id=record.deployment_id,
        hourly_usd=record.hourly_usd,
        notes=("The create request never answered; tuneport endpoint JOB shows what the "
               "provider has, tuneport endpoint JOB --stop stops it.",),
    )
