"""Keeping secrets inside: scrubbed SDK exceptions and scrubbed SDK log records.

An SDK exception carries the request it failed on (headers with ``Authorization``), the
response (whose body a server may echo the key into) and the JSON that was sent (Together
and Fireworks send the W&B key in the job body). tuneport chains its own errors ``from``
the SDK's, so whatever the SDK exception holds ends up in every traceback. :func:`scrub`
rewrites such an exception in place before it is chained: messages, body, request and
response lose every secret; status, request id and the provider's message stay.

The SDKs log requests at debug level (``OPENAI_LOG=debug``, ``TOGETHER_LOG=debug``, httpx
logging), including the JSON body. :func:`remember` adds secrets to one process-wide log
filter attached to the SDKs' and httpx's loggers, which rewrites any record mentioning one.

Nothing here imports an SDK or httpx: the objects are handled by their attributes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LOGGERS", "REDACTED", "remember", "request_secrets", "scrub", "scrub_text"]

REDACTED = "***"
LOGGERS = ("openai", "together", "fireworks", "httpx", "httpx2", "httpcore", "httpcore2")
"""Logger name prefixes whose records are scrubbed (the SDKs and their HTTP stacks)."""

SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie",
    "x-amz-security-token", "wandb-api-key",
})
# JSON fields whose value is a credential (W&B keys in Together's and Fireworks' job bodies,
# Hugging Face tokens, webhook secrets). Matched on the field name, case-insensitively.
_SECRET_FIELD = re.compile(r"(api[_-]?key|apikey|token|secret|password|authorization)", re.I)
_KEY_SHAPED = re.compile(r"\b(sk|fw|tgp)[-_][A-Za-z0-9_\-*]{4,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{4,}")
_MIN_SECRET = 4  # shorter strings would redact ordinary words

_lock = threading.Lock()
_known: set[str] = set()


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets, the remembered ones, bearer tokens or key shapes."""
    with _lock:
        every = sorted({*_known, *(s for s in secrets if s and len(s) >= _MIN_SECRET)},
                       key=len, reverse=True)
    for secret in every:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    # Providers echo key fragments in 401 messages ("Incorrect API key provided: sk-ab***").
    return _KEY_SHAPED.sub(lambda m: f"{m.group(1)}-{REDACTED}", text)


def remember(secrets: Iterable[str | None]) -> None:
    """Add secrets to the process-wide set scrubbed from SDK logs and SDK exceptions.

    Also attaches the log filter to every logger of the SDKs and their HTTP stacks that
    exists now (the SDKs create their loggers at import, before any request).
    """
    fresh = {s for s in secrets if s and len(s) >= _MIN_SECRET}
    with _lock:
        fresh -= _known
        _known.update(fresh)
    _attach_filter()


def request_secrets(request: Any) -> set[str]:
    """Credentials found in an HTTP request: sensitive header values and secret JSON fields."""
    found: set[str] = set()
    if request is None:
        return found
    headers = getattr(request, "headers", None)
    if headers is not None:
        try:
            items = list(headers.items())
        except Exception:  # an odd headers object: nothing to learn from it
            items = []
        for name, value in items:
            if str(name).lower() in SENSITIVE_HEADERS and value:
                found.add(str(value))
                # "Bearer <key>": the bare key is the secret that may be echoed elsewhere.
                _, _, token = str(value).partition(" ")
                if token:
                    found.add(token.strip())
    body = _content(request)
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        found.update(_secret_fields(payload))
    return {s for s in found if len(s) >= _MIN_SECRET}


def scrub(exc: BaseException, secrets: Iterable[str] = ()) -> BaseException:
    """Rewrite ``exc`` and the exceptions chained to it so that no secret remains; returns it.

    Kept: the class, the HTTP status, the request id, the provider's message and error
    code (each with secrets replaced by ``***``). Replaced: the request (without sensitive
    headers, its JSON body scrubbed) and the response (same status and headers, scrubbed
    body).
    """
    found = set(secrets)
    seen: set[int] = set()
    chain: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        chain.append(node)
        found |= request_secrets(_attr(node, "request"))
        found |= request_secrets(_attr(_attr(node, "response"), "request"))
        node = node.__cause__ or node.__context__
    for item in chain:
        _scrub_one(item, found)
    return exc


def _scrub_one(exc: BaseException, secrets: set[str]) -> None:
    exc.args = tuple(scrub_text(a, secrets) if isinstance(a, str) else _scrub_value(a, secrets)
                     for a in exc.args)
    for name in ("message", "body", "code", "param", "type"):
        if name in getattr(exc, "__dict__", {}):
            with contextlib.suppress(AttributeError):  # a read-only property
                setattr(exc, name, _scrub_value(getattr(exc, name), secrets))
    own = getattr(exc, "__dict__", {})
    request = own.get("request")
    safe_request = _safe_request(request, secrets) if request is not None else None
    if safe_request is not None:
        exc.request = safe_request  # type: ignore[attr-defined]
    if "response" in getattr(exc, "__dict__", {}):
        response = exc.response  # type: ignore[attr-defined]
        if response is not None:
            exc.response = _safe_response(response, safe_request, secrets)  # type: ignore[attr-defined]


def _attr(obj: Any, name: str) -> Any:
    """``getattr`` that also survives properties that raise (httpx's ``.request``)."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _scrub_value(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, bytes):
        return scrub_text(value.decode("utf-8", "replace"), secrets).encode()
    if isinstance(value, Mapping):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_FIELD.search(k)
                    and isinstance(v, str) and v else _scrub_value(v, secrets))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, secrets) for v in value]
    return value


def _secret_fields(payload: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(payload, Mapping):
        for k, v in payload.items():
            if isinstance(k, str) and _SECRET_FIELD.search(k) and isinstance(v, str) and v:
                found.add(v)
            else:
                found |= _secret_fields(v)
    elif isinstance(payload, list):
        for v in payload:
            found |= _secret_fields(v)
    return found


def _content(message: Any) -> bytes:
    """The body of an httpx request or response, or b"" when it is a stream not yet read."""
    try:
        content = message.content
    except Exception:  # httpx raises RequestNotRead/ResponseNotRead on streams
        return b""
    return content if isinstance(content, bytes) else b""


def _safe_headers(headers: Any, secrets: set[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    try:
        items = list(headers.items())
    except Exception:
        return out
    for name, value in items:
        if str(name).lower() in SENSITIVE_HEADERS:
            continue
        out.append((str(name), scrub_text(str(value), secrets)))
    return out


def _safe_body(content: bytes, secrets: set[str]) -> bytes:
    if not content:
        return b""
    text = content.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return scrub_text(text, secrets).encode()
    return json.dumps(_scrub_value(payload, secrets)).encode()


def _safe_request(request: Any, secrets: set[str]) -> Any:
    try:
        return type(request)(
            request.method, scrub_text(str(request.url), secrets),
            headers=_safe_headers(request.headers, secrets),
            content=_safe_body(_content(request), secrets),
        )
    except Exception:  # not an httpx request: drop it rather than keep a key
        return None


def _safe_response(response: Any, request: Any, secrets: set[str]) -> Any:
    try:
        safe = type(response)(
            response.status_code,
            headers=_safe_headers(response.headers, secrets),
            content=_safe_body(_content(response), secrets),
            request=(request if request is not None
                     else _safe_request(response.request, secrets)),
        )
    except Exception:  # keep nothing rather than a key
        return None
    return safe


class _LogScrubber(logging.Filter):
    """Rewrites a record that mentions a remembered secret (or a bearer token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a broken record is the logging module's business
            return True
        clean = scrub_text(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_FILTER = _LogScrubber()


def _attach_filter() -> None:
    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".", 1)[0] in LOGGERS]
    for name in {*names, *LOGGERS}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
