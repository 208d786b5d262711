"""Byte progress of a file upload, reported by the adapters and shown by whoever listens.

An upload runs deep inside ``Client.fine_tune`` (ledger, retries, adapter, SDK), and the
provider contract's ``upload(rendered)`` has no room for a callback. So the listener rides
in a context variable: the CLI installs one around the call with :func:`listening`, and
an adapter asks for a :func:`reporter` when it starts sending bytes. Without a listener
the reporter does nothing. The reporter keeps the listener it was made with, so progress
reported from an SDK's worker threads still reaches it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["UploadEvent", "UploadListener", "listening", "reporter"]


@dataclass(frozen=True)
class UploadEvent:
    """Where one upload stands.

    Attributes:
        provider: the adapter's name.
        filename: the name of the file being sent.
        sent: bytes the provider has accepted so far.
        total: bytes in the file.
        flow: how it travels: ``single`` (one request), ``parts`` (OpenAI Uploads API),
            ``multipart`` (Together), ``signed-url`` (Fireworks).
        done: True on the last event of this upload.
    """

    provider: str
    filename: str
    sent: int
    total: int
    flow: str
    done: bool = False


UploadListener = Callable[[UploadEvent], None]

_listener: contextvars.ContextVar[UploadListener | None] = contextvars.ContextVar(
    "tuneport_upload_listener", default=None
)


@contextlib.contextmanager
def listening(listener: UploadListener) -> Iterator[None]:
    """Send the upload progress of every adapter called inside the block to ``listener``."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class Reporter:
    """Reports the bytes sent so far of one upload; never goes backwards.

    A retried part or a restarted PUT re-sends bytes; the display must not jump back, so
    a smaller figure than the last one is ignored.
    """

    def __init__(self, listener: UploadListener | None, provider: str, filename: str,
                 total: int, flow: str) -> None:
        self._listener = listener
        self._event = UploadEvent(provider, filename, 0, total, flow)
        self._lock = threading.Lock()

    def __call__(self, sent: int) -> None:
        """Report that ``sent`` bytes (in all) have been accepted."""
        self._emit(sent, done=False)

    def finish(self) -> None:
        """Report the upload complete."""
        self._emit(self._event.total, done=True)

    def _emit(self, sent: int, *, done: bool) -> None:
        if self._listener is None:
            return
        with self._lock:
            if sent < self._event.sent and not done:
                return
            self._event = UploadEvent(self._event.provider, self._event.filename,
                                      min(sent, self._event.total), self._event.total,
                                      self._event.flow, done)
            event = self._event
        self._listener(event)


def reporter(provider: str, filename: str, total: int, flow: str) -> Reporter:
    """A :class:`Reporter` for one upload, bound to the listener of the current context."""
    return Reporter(_listener.get(), provider, filename, total, flow)
