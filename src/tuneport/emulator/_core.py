"""What every route shares: configuration, state, auth, faults and error bodies."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tuneport.emulator._clock import Clock, SystemClock
from tuneport.emulator._faults import FAULT_KINDS, FaultPlan
from tuneport.emulator._prices import fixed_price_per_million
from tuneport.emulator._requests import check_body, rule_for
from tuneport.emulator._store import Store

__all__ = ["ApiError", "EmulatorConfig", "EmulatorState", "Handler", "make_route"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_API_KEY = "tuneport-emulator-key"


@dataclass
class EmulatorConfig:
    """How the emulator behaves.

    Attributes:
        host: a loopback address; the emulator refuses to listen anywhere else.
        port: 0 picks a free port.
        api_key: the one key every provider accepts; anything else gets a 401.
        job_seconds: how long a fine-tuning job takes from creation to success.
        file_seconds: how long Together file validation / Fireworks dataset ingestion takes.
        deploy_seconds: how long a deployment takes to become ready.
        fail_rate: probability that a job fails mid-training with a realistic error.
        fault_rate: probability that any request meets a transport fault.
        fault_kinds: the kinds random faults are drawn from.
        seed: seeds ids, job failures and faults, so runs repeat exactly.
        retry_after: seconds a 429 asks the client to wait (``Retry-After``).
        timeout_seconds: how late a ``timeout`` fault answers.
        state_path: a SQLite file that keeps state across restarts (``None``: memory only).
        price_per_million: ``(provider, model, method) -> USD`` per 1M trained tokens;
            default: the emulator's own fixed table (``_prices``), never tuneport's catalog.
        openai_fine_tuning_closed: OpenAI answers ``POST /fine_tuning/jobs`` with the 403
            an organisation gets once self-serve fine-tuning is closed to it (the wind-down);
            files, reads and chat keep working. Can be flipped while running.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = DEFAULT_API_KEY
    job_seconds: float = 30.0
    file_seconds: float = 1.0
    deploy_seconds: float = 5.0
    fail_rate: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after: float = 1.0
    timeout_seconds: float = 30.0
    state_path: Path | None = None
    price_per_million: Callable[[str, str, str], float] = fixed_price_per_million
    openai_fine_tuning_closed: bool = False

    def check(self) -> None:
        """Raise ``ValueError`` with what to change when a setting is unusable."""
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"the emulator only listens on loopback ({', '.join(sorted(LOOPBACK_HOSTS))}); "
                f"got host {self.host!r}"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535 (0 picks a free one), "
                             f"got {self.port}")
        for name in ("fail_rate", "fault_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        unknown = sorted(set(self.fault_kinds) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {', '.join(FAULT_KINDS)}")
        if self.job_seconds <= 0:
            raise ValueError(f"job_seconds must be > 0, got {self.job_seconds}")
        for name in ("file_seconds", "deploy_seconds", "retry_after", "timeout_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class ApiError(Exception):
    """An error answer; each provider renders it in its own body shape."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 type: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type
        self.param = param
        self.headers = headers or {}
        self.extra = extra or {}


# google.rpc codes Fireworks puts in its error bodies, by HTTP status.
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12, 503: 14, 504: 4}
_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
                 404: "invalid_request_error", 409: "invalid_request_error",
                 429: "requests", 500: "server_error", 503: "server_error"}


def error_body(provider: str, err: ApiError) -> dict[str, Any]:
    """The error body ``provider`` sends for ``err``."""
    if provider == "fireworks":
        return {"code": _GRPC.get(err.status, 2), "message": err.message, "details": []}
    body = {"message": err.message, "type": err.type or _OPENAI_TYPES.get(err.status, "api_error"),
            "param": err.param, "code": err.code}
    return {"error": body, **err.extra}


class _DroppedResponse(Response):
    """Starts a response, sends part of it, then cuts the connection."""

    def __init__(self, body: bytes) -> None:
        super().__init__(content=body, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2],
                    "more_body": True})
        # The server closes the socket when the app fails after the response started:
        # the client sees the connection drop mid-answer.
        raise ConnectionAbortedError("emulated connection drop")


@dataclass
class Exchange:
    """One request and the emulator's answer (kept for tests and schema checks)."""

    provider: str
    method: str
    path: str
    route: str
    status: int
    body: Any


@dataclass
class EmulatorState:
    """Everything the routes share."""

    config: EmulatorConfig
    clock: Clock = field(default_factory=SystemClock)
    store: Store = field(init=False)
    faults: FaultPlan = field(init=False)
    exchanges: list[Exchange] = field(default_factory=list)
    base_url: str = "http://127.0.0.1"
    # Set when the server is asked to stop, so a deliberately slow answer stops waiting
    # (otherwise every shutdown after a ``timeout`` fault would wait out the fault).
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.config.check()
        self.store = Store(self.config.state_path, seed=self.config.seed)
        self.faults = FaultPlan(self.config.fault_rate, self.config.seed, self.config.fault_kinds)
        self._fail_rng = random.Random(f"fail:{self.config.seed}")
        self._lock = threading.Lock()

    def now(self) -> float:
        """The emulator's current time."""
        return self.clock.now()

    def iso(self, t: float | None) -> str | None:
        """RFC 3339 text for a Unix time (``None`` stays ``None``)."""
        if t is None:
            return None
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")

    def draw_failure(self) -> bool:
        """Whether a new job is one of the ``fail_rate`` share that fails."""
        with self._lock:
            return self._fail_rng.random() < self.config.fail_rate

    def record(self, exchange: Exchange) -> None:
        """Keep an exchange (the most recent 10,000)."""
        with self._lock:
            self.exchanges.append(exchange)
            del self.exchanges[:-10_000]

    def check_auth(self, provider: str, request: Request) -> None:
        """Raise the provider's 401 unless the request carries the configured key."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip() == self.config.api_key:
            return
        if not header:
            msg = {
                "openai": "You didn't provide an API key. You need to provide your API key in an "
                          "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                          "YOUR_KEY).",
                "together": "Missing API key. Provide it in the Authorization header "
                            "(Authorization: Bearer YOUR_KEY).",
                "fireworks": "unauthenticated: missing API key",
            }[provider]
            raise ApiError(401, msg, code=None if provider == "openai" else "invalid_api_key")
        masked = _mask(token.strip())
        msg = {
            "openai": f"Incorrect API key provided: {masked}. You can find your API key at "
                      "https://platform.openai.com/account/api-keys.",
            "together": "Invalid API key provided. You can find your API key at "
                        "https://api.together.ai/settings/api-keys.",
            "fireworks": "unauthenticated: invalid API key",
        }[provider]
        raise ApiError(401, msg, code="invalid_api_key")


def _mask(key: str) -> str:
    # Like the providers, echo only enough of a wrong key to recognise it, never all of it.
    return f"{key[:3]}***{key[-4:]}" if len(key) > 10 else "***"


Handler = Callable[[EmulatorState, Request], Awaitable[Any]]


def make_route(state: EmulatorState, provider: str, path: str, methods: list[str],
               handler: Handler, *, creates_job: bool = False, auth: bool = True,
               name: str | None = None) -> Route:
    """A Starlette route that authenticates, injects faults and renders errors.

    ``handler`` returns a JSON-able value (sent with 200) or a ``Response``.
    """
    route_name = name or path

    async def endpoint(request: Request) -> Response:
        fault = None
        try:
            if auth:
                state.check_auth(provider, request)
                fault = state.faults.draw(provider, request.method, request.url.path,
                                          creates_job=creates_job)
                if fault in ("rate_limit", "server_error", "unavailable"):
                    raise _fault_error(state, provider, fault)
            await _check_request(provider, request, route_name)
            result = await handler(state, request)
            response = result if isinstance(result, Response) else JSONResponse(result)
            body: Any = result if not isinstance(result, Response) else None
        except ApiError as err:
            body = error_body(provider, err)
            response = JSONResponse(body, status_code=err.status, headers=err.headers)
        state.record(Exchange(provider, request.method, request.url.path, route_name,
                              response.status_code, body))
        if fault == "timeout":
            await _sleep_unless_stopping(state, state.config.timeout_seconds)
        elif fault == "drop":
            return _DroppedResponse(json.dumps(body).encode())
        return response

    return Route(path, endpoint, methods=methods, name=f"{provider}:{route_name}:{methods[0]}")


async def _check_request(provider: str, request: Request, route: str) -> None:
    # The published request schema first, as the real services do, before any handler runs.
    rule = rule_for(provider, request.method, route, request.url.path)
    if rule is None:
        return
    body = await json_body(request)  # starlette keeps the bytes for the handler
    problems = check_body(rule, body)
    if problems:
        first = problems[0]
        message = " ".join(p.message for p in problems[:5])
        raise ApiError(400, message, type="invalid_request_error", param=first.where,
                       code=first.kind)


async def _sleep_unless_stopping(state: EmulatorState, seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not state.stopping.is_set():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.05))


def _fault_error(state: EmulatorState, provider: str, fault: str) -> ApiError:
    if fault == "rate_limit":
        wait = state.config.retry_after
        headers = {"retry-after": _seconds_text(wait)}
        if provider == "openai":  # OpenAI also says it in milliseconds (read first by SDKs)
            headers["retry-after-ms"] = str(round(wait * 1000))
        return ApiError(429, "Rate limit reached for requests. Please try again later.",
                        code="rate_limit_exceeded", headers=headers)
    if fault == "unavailable":
        return ApiError(503, "The server is overloaded or not ready yet.",
                        code="service_unavailable")
    return ApiError(500, "The server had an error while processing your request. Sorry about that!",
                    code="internal_error")


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; a 400 in the provider's shape when it is not one."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"We could not parse the JSON body of your request ({exc.msg}).") \
            from exc
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


async def form_fields(request: Request) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """A multipart form's text fields and files (``name -> (filename, bytes)``), fully read."""
    texts: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    async with request.form() as form:
        for key, value in form.multi_items():
            if isinstance(value, str):
                texts[key] = value
            else:
                files[key] = (value.filename or "file", await value.read())
    return texts, files
