"""What the object stores behind signed upload URLs answer (S3 for Together, GCS for Fireworks).

Signed URLs carry their own signature instead of the API key, so their routes skip the
API's auth and fault injection; this module gives them the storage's own failures: a
fault scheduled (or drawn) for the URL's path answers with the store's XML error, which
a client must retry. ``timeout`` and ``drop`` faults do not apply to these routes.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from tuneport.emulator._core import EmulatorState

__all__ = ["signature", "storage_error", "storage_fault"]

_FAULTS = {
    "server_error": (500, "InternalError", "We encountered an internal error. Please try again."),
    "unavailable": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "rate_limit": (503, "SlowDown", "Please reduce your request rate."),
}


def signature(state: EmulatorState, what: str) -> str:
    """The emulator's signature of a URL for ``what`` (stable for one seed)."""
    return hashlib.sha256(f"{what}:{state.config.seed}".encode()).hexdigest()[:16]


def storage_error(status: int, code: str, message: str) -> Response:
    """An object store's XML error answer."""
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


def storage_fault(state: EmulatorState, provider: str, request: Request) -> Response | None:
    """The storage error a fault plan gives this request, or ``None``."""
    kind = state.faults.draw(provider, request.method, request.url.path, creates_job=False)
    if kind not in _FAULTS:
        return None
    status, code, message = _FAULTS[kind]
    return storage_error(status, code, message)
