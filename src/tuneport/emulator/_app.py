"""The ASGI application: one server, one path prefix per provider, plus test controls."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tuneport.emulator import _fireworks, _openai, _together
from tuneport.emulator._clock import ManualClock
from tuneport.emulator._core import EmulatorState

__all__ = ["PREFIXES", "build_app"]

PREFIXES = {"openai": "/openai/v1", "together": "/together", "fireworks": "/fireworks"}


def _control_routes(state: EmulatorState) -> list[Route]:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "now": state.now()})

    async def advance(request: Request) -> JSONResponse:
        if not isinstance(state.clock, ManualClock):
            return JSONResponse({"error": "the emulator runs on the wall clock; start it with "
                                          "a manual clock to advance time"}, status_code=409)
        body: dict[str, Any] = await request.json()
        return JSONResponse({"now": state.clock.advance(float(body.get("seconds", 0)))})

    async def faults(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            state.faults.schedule(str(body["kind"]), provider=body.get("provider"),
                                  path_contains=body.get("path_contains"),
                                  method=body.get("method"), times=int(body.get("times", 1)))
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"scheduled": True})

    async def openai_fine_tuning(request: Request) -> JSONResponse:
        body = await request.json() if await request.body() else {}
        closed = body.get("closed", True) if isinstance(body, dict) else None
        if not isinstance(closed, bool):
            return JSONResponse({"error": "send {\"closed\": true} or {\"closed\": false}"},
                                status_code=400)
        state.config.openai_fine_tuning_closed = closed
        return JSONResponse({"closed": closed})

    return [Route("/health", health, methods=["GET"]),
            Route("/clock/advance", advance, methods=["POST"]),
            Route("/faults", faults, methods=["POST"]),
            Route("/openai/fine-tuning", openai_fine_tuning, methods=["POST"])]


def build_app(state: EmulatorState) -> Starlette:
    """The Starlette app serving all three providers from ``state``."""
    return Starlette(routes=[
        Mount(PREFIXES["openai"], routes=_openai.routes(state)),
        Mount(PREFIXES["together"], routes=_together.routes(state)),
        Mount(PREFIXES["fireworks"], routes=_fireworks.routes(state)),
        Mount("/_emulator", routes=_control_routes(state)),
    ])
