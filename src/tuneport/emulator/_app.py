"""The ASGI application: one server, one path prefix per provider, plus test controls."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tuneport.emulator import (
    _fireworks,
    _listings,
    _openai,
    _together,
    _together_endpoints,
    _together_multipart,
)
from tuneport.emulator._clock import ManualClock
from tuneport.emulator._core import EmulatorState
from tuneport.emulator._faults import FAULT_KINDS

__all__ = ["PREFIXES", "build_app"]

PREFIXES = {"openai": "/openai/v1", "together": "/together", "fireworks": "/fireworks"}


async def _control_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    body = json.loads(raw) if raw else {}
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def _control_routes(state: EmulatorState) -> list[Route]:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "now": state.now()})

    async def advance(request: Request) -> JSONResponse:
        if not isinstance(state.clock, ManualClock):
            return JSONResponse({"error": "the emulator runs on the wall clock; start it with "
                                          "a manual clock to advance time"}, status_code=409)
        try:
            seconds = float((await _control_body(request)).get("seconds", 0))
            return JSONResponse({"now": state.clock.advance(seconds)})
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": f"send {{\"seconds\": N}} with N >= 0 ({exc})"},
                                status_code=400)

    async def faults(request: Request) -> JSONResponse:
        try:
            body = await _control_body(request)
            state.faults.schedule(str(body["kind"]), provider=body.get("provider"),
                                  path_contains=body.get("path_contains"),
                                  method=body.get("method"), times=int(body.get("times", 1)))
        except KeyError:
            return JSONResponse({"error": "send {\"kind\": K} with K one of "
                                          f"{', '.join(FAULT_KINDS)}"}, status_code=400)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"scheduled": True})

    async def openai_fine_tuning(request: Request) -> JSONResponse:
        try:
            body: dict[str, Any] | None = await _control_body(request)
        except ValueError:
            body = None
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
        Mount(PREFIXES["openai"], routes=[*_openai.routes(state),
                                          *_listings.openai_routes(state)]),
        Mount(PREFIXES["together"], routes=[*_together_multipart.routes(state),
                                            *_together.routes(state),
                                            *_together_endpoints.routes(state),
                                            *_listings.together_routes(state)]),
        Mount(PREFIXES["fireworks"], routes=[*_fireworks.routes(state),
                                             *_listings.fireworks_routes(state)]),
        Mount("/_emulator", routes=_control_routes(state)),
    ])
