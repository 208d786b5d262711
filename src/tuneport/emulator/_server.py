"""Running the emulator: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from tuneport.emulator._app import PREFIXES, build_app
from tuneport.emulator._clock import Clock, ManualClock, SystemClock
from tuneport.emulator._core import EmulatorConfig, EmulatorState, Exchange
from tuneport.emulator._faults import FaultPlan

__all__ = ["Emulator", "running", "serve_forever"]


@dataclass
class Emulator:
    """A running emulator: its URLs, key, clock and fault plan.

    Attributes:
        url: ``http://HOST:PORT``.
        api_key: the key the emulator accepts for every provider.
    """

    url: str
    api_key: str
    state: EmulatorState

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for ``openai.OpenAI`` (it includes ``/v1``)."""
        return self.url + PREFIXES["openai"]

    @property
    def together_base_url(self) -> str:
        """``base_url`` for ``together.Together`` 3.x (the SDK adds ``/v1``)."""
        return self.url + PREFIXES["together"]

    @property
    def fireworks_base_url(self) -> str:
        """``base_url`` for ``fireworks.Fireworks`` (the SDK adds ``/v1``)."""
        return self.url + PREFIXES["fireworks"]

    @property
    def clock(self) -> Clock:
        """The clock jobs advance on."""
        return self.state.clock

    @property
    def faults(self) -> FaultPlan:
        """Schedule transport faults: ``emu.faults.schedule("rate_limit", provider="openai")``."""
        return self.state.faults

    @property
    def exchanges(self) -> list[Exchange]:
        """Every request answered so far, with the status and JSON body sent back."""
        return self.state.exchanges

    @property
    def openai_fine_tuning_closed(self) -> bool:
        """Whether OpenAI refuses new fine-tuning jobs with its wind-down 403.

        Set it to ``True`` to see what an organisation whose self-serve fine-tuning access
        has ended sees; ``False`` opens job creation again.
        """
        return self.state.config.openai_fine_tuning_closed

    @openai_fine_tuning_closed.setter
    def openai_fine_tuning_closed(self, closed: bool) -> None:
        self.state.config.openai_fine_tuning_closed = closed

    def advance(self, seconds: float) -> None:
        """Move a manual clock forward.

        Raises:
            TypeError: if the emulator runs on the wall clock.
        """
        if not isinstance(self.state.clock, ManualClock):
            raise TypeError("advance() needs an emulator started with clock=ManualClock()")
        self.state.clock.advance(seconds)

    def env(self, *, fireworks_account: str = "emulator") -> dict[str, str]:
        """Environment variables that point each official SDK at this emulator."""
        return {
            "OPENAI_BASE_URL": self.openai_base_url, "OPENAI_API_KEY": self.api_key,
            "TOGETHER_BASE_URL": self.together_base_url, "TOGETHER_API_KEY": self.api_key,
            # Any project id works here; Together's dedicated endpoints live under one.
            "TOGETHER_PROJECT_ID": "emulator",
            "FIREWORKS_BASE_URL": self.fireworks_base_url, "FIREWORKS_API_KEY": self.api_key,
            "FIREWORKS_ACCOUNT_ID": fireworks_account,
        }


class _QuietDrops(logging.Filter):
    # An emulated connection drop is on purpose: keep it out of the error log.
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionAbortedError)


def _make_server(config: EmulatorConfig, clock: Clock) -> tuple[Any, socket.socket, Emulator]:
    import uvicorn

    class Server(uvicorn.Server):
        # Ctrl-C must also end deliberately slow answers at once: otherwise uvicorn cancels
        # them after its grace period and prints their tracebacks.
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            state.stopping.set()
            super().handle_exit(sig, frame)

    state = EmulatorState(config=config, clock=clock)
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
        # Listening now (uvicorn accepts later) means the URLs printed by ``tuneport emulate``
        # take connections from the moment they are shown.
        sock.listen(128)
    except OSError:
        sock.close()
        state.store.close()
        raise
    port = sock.getsockname()[1]
    host = f"[{config.host}]" if family == socket.AF_INET6 else config.host
    url = f"http://{host}:{port}"
    state.base_url = url
    uv_config = uvicorn.Config(build_app(state), log_level="warning", lifespan="off",
                               access_log=False, timeout_graceful_shutdown=1)
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return Server(uv_config), sock, Emulator(url=url, api_key=config.api_key, state=state)


@contextlib.contextmanager
def running(config: EmulatorConfig | None = None, *, clock: Clock | None = None,
            **overrides: Any) -> Iterator[Emulator]:
    """Run the emulator on a free loopback port for the duration of a ``with`` block.

    Args:
        config: the settings; keyword ``overrides`` replace single fields
            (``running(job_seconds=2, fail_rate=0.5)``).
        clock: ``ManualClock()`` for tests that move time themselves; default wall clock.

    Yields:
        The running :class:`Emulator`.
    """
    cfg = replace(config or EmulatorConfig(), **overrides)
    server, sock, emulator = _make_server(cfg, clock or SystemClock())
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="tuneport-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the emulator did not start; see the log above")
        time.sleep(0.01)
    try:
        yield emulator
    finally:
        emulator.state.stopping.set()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        emulator.state.store.close()


def serve_forever(config: EmulatorConfig, *, clock: Clock | None = None,
                  on_ready: Any = None) -> None:
    """Serve in the foreground until interrupted (used by ``tuneport emulate``).

    Args:
        config: the settings.
        clock: default the wall clock; a ``ManualClock`` is moved with
            ``POST /_emulator/clock/advance``.
        on_ready: called with the :class:`Emulator` once it takes connections.
    """
    server, sock, emulator = _make_server(config, clock or SystemClock())
    if on_ready is not None:
        on_ready(emulator)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        emulator.state.store.close()
