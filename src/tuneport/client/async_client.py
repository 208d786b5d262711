"""The ``asyncio`` face of :class:`tuneport.Client`.

The adapters are synchronous (the official SDKs' sync clients), so each call runs in a
worker thread; waiting uses the same rules as the sync client (:mod:`tuneport.client.waiting`)
but sleeps with ``asyncio.sleep``, so many jobs can be followed on one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tuneport._config import Settings
from tuneport._models import (
    Checkpoint,
    EndpointState,
    Job,
    JobEvent,
    MetricPoint,
    ModelEndpoint,
)
from tuneport.client.job_refs import JobRef
from tuneport.client.waiting import (
    endpoint_following,
    follow_async,
    job_following,
    ready_or_raise,
    succeeded_or_raise,
)
from tuneport.ledger import Ledger

if TYPE_CHECKING:
    from tuneport.client.client import Client
    from tuneport.cost import Comparison, CostEstimate
    from tuneport.evaluate import EvalReport
    from tuneport.providers.base import ProviderQuote

__all__ = ["AsyncClient"]


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
        from tuneport.client.client import Client

        #: The :class:`Client` doing the work in worker threads.
        self.sync: Client = Client(provider, **kwargs)

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

    async def evaluate(self, job_or_endpoint: Any, heldout: Any, **kwargs: Any) -> EvalReport:
        """See :meth:`Client.evaluate` (runs in a worker thread; same arguments)."""
        return await asyncio.to_thread(self.sync.evaluate, job_or_endpoint, heldout, **kwargs)

    async def deploy(
        self,
        job: JobRef,
        *,
        wait: bool = False,
        timeout: float | None = None,
        poll: float | None = None,
        stop_after: timedelta | None = None,
        **options: Any,
    ) -> ModelEndpoint:
        """See :meth:`Client.deploy`; waits with ``asyncio.sleep`` when ``wait=True``."""
        sync = self.sync
        current, endpoint = await asyncio.to_thread(
            sync._start_deployment, job, options, stop_after
        )
        if not wait or endpoint.state is EndpointState.READY or endpoint.kind != "dedicated":
            # Only a dedicated deployment comes up by itself; a local model is served by
            # `tuneport serve` (or answers in-process), so there is nothing to wait for.
            return endpoint
        following = endpoint_following(
            current, endpoint, start=asyncio.get_running_loop().time(), timeout=timeout,
            poll=poll, max_poll=None,
        )

        async def fetch(_: ModelEndpoint) -> ModelEndpoint:
            return await asyncio.to_thread(sync._endpoint_of, current)

        done = await follow_async(following, fetch)
        return ready_or_raise(current, await asyncio.to_thread(sync._deployer.observed,
                                                               current, done))

    async def undeploy(self, job: JobRef) -> ModelEndpoint:
        """See :meth:`Client.undeploy`."""
        return await asyncio.to_thread(self.sync.undeploy, job)

    async def endpoints(self, *, refresh: bool = True) -> list[ModelEndpoint]:
        """See :meth:`Client.endpoints`."""
        return await asyncio.to_thread(self.sync.endpoints, refresh=refresh)

    async def stop_expired(self) -> list[ModelEndpoint]:
        """See :meth:`Client.stop_expired`."""
        return await asyncio.to_thread(self.sync.stop_expired)

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
        first = await asyncio.to_thread(self.sync._last_known, job)
        following = job_following(
            first, start=asyncio.get_running_loop().time(), timeout=timeout, poll=poll,
            max_poll=max_poll,
        )
        done = await follow_async(following, self.get_job, on_update=on_update)
        return succeeded_or_raise(done)

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
