"""A loopback emulator of the OpenAI, Together and Fireworks fine-tuning APIs.

Like moto for AWS: point the official SDKs (or tuneport) at it and whole fine-tuning
life cycles run offline, deterministically, with faults on demand::

    from tuneport.emulator import ManualClock, running
    import openai

    with running(clock=ManualClock(), job_seconds=60) as emu:
        client = openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key)
        ...
        emu.advance(60)          # the job is done

Needs the ``emulator`` extra (``pip install 'tuneport[emulator]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuneport.emulator._clock import Clock, ManualClock, SystemClock
from tuneport.emulator._faults import FAULT_KINDS, FaultPlan

if TYPE_CHECKING:
    from tuneport.emulator._core import EmulatorConfig
    from tuneport.emulator._server import Emulator, running

__all__ = [
    "FAULT_KINDS",
    "Clock",
    "Emulator",
    "EmulatorConfig",
    "FaultPlan",
    "ManualClock",
    "SystemClock",
    "running",
]


def __getattr__(name: str) -> Any:
    # starlette and uvicorn load only when the server itself is wanted.
    if name in ("Emulator", "running"):
        from tuneport.emulator import _server

        return getattr(_server, name)
    if name == "EmulatorConfig":
        from tuneport.emulator._core import EmulatorConfig

        return EmulatorConfig
    raise AttributeError(f"module 'tuneport.emulator' has no attribute {name!r}")
