"""Which job a reference means: a :class:`Job`, ``"provider:id"``, or a bare id.

A bare id is looked up in the ledger (ids are unique per provider, not across them);
only when the ledger does not know it does the client's default provider apply.
"""

from __future__ import annotations

from tuneport._exceptions import ConfigError
from tuneport._models import Job
from tuneport.ledger import Ledger

__all__ = ["JobRef", "resolve_job_ref"]

#: A job as the client accepts it: a :class:`Job`, ``"provider:id"``, or a bare id
#: looked up in the ledger.
JobRef = Job | str


def resolve_job_ref(job: JobRef, ledger: Ledger, default_provider: str | None) -> tuple[str, str]:
    """(provider, job id) for a job reference.

    Raises:
        ConfigError: the reference is empty, ambiguous, or names no provider that is known.
    """
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
    known = ledger.providers_of(ref)
    if len(known) == 1:
        return known[0], ref
    if len(known) > 1:
        raise ConfigError(
            f"Job id {ref!r} exists at several providers ({', '.join(known)}); "
            f"write it as provider:id, e.g. {known[0]}:{ref}."
        )
    if default_provider:
        return default_provider, ref
    raise ConfigError(
        f"Job {ref!r} is not in the ledger and no provider is selected; "
        "write it as provider:id (e.g. together:ft-123), or select a default provider "
        "(provider=..., TUNEPORT_PROVIDER)."
    )
