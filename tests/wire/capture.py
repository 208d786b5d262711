"""A loopback capture proxy: records every request, forwards it to the emulator.

The official tools and tuneport both talk to it, so each side's requests (method, path,
query, body) are recorded exactly as sent, while the emulator behind it answers like the
service so multi-step flows (302 uploads, polling) run to the end. A redirect the emulator
sends (Together's presigned upload URL) is pointed back at the proxy, so that ``PUT`` is
recorded too.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding",
        "keep-alive", "accept-encoding"}


@dataclass
class Captured:
    """One request as it reached the wire."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> Any:
        """The JSON body, else the multipart fields (files as ``{"filename", "bytes"}``)."""
        return self.json if self.json is not None else (self.form or None)


def _parse(ctype: str, raw: bytes) -> tuple[Any, dict[str, Any]]:
    if "json" in ctype and raw:
        try:
            return json.loads(raw), {}
        except ValueError:
            return None, {}
    if ctype.startswith("multipart/"):
        message = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
        form: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            form[str(name)] = ({"filename": filename, "bytes": len(data)} if filename
                               else data.decode())
        return None, form
    return None, {}


class CaptureProxy:
    """``with CaptureProxy(upstream) as proxy:`` then point clients at ``proxy.url``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30, follow_redirects=False)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                return

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def _handle(self) -> None:
                raw = self._body()
                parts = urlsplit(self.path)
                ctype = self.headers.get("content-type", "")
                parsed, form = _parse(ctype, raw)
                with proxy._lock:
                    proxy.requests.append(Captured(
                        self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                        {k.lower(): v for k, v in self.headers.items()}, raw, parsed, form))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                answer = proxy._http.request(self.command, proxy.upstream + self.path,
                                             content=raw, headers=headers)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() in _HOP:
                        continue
                    if key.lower() == "location":
                        value = value.replace(proxy.upstream, proxy.url)
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> CaptureProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def take(self) -> list[Captured]:
        """The requests recorded so far, emptying the record."""
        with self._lock:
            out, self.requests = self.requests, []
        return out


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay whole)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _renamed(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for mine, theirs in ids.items():
            value = value.replace(mine, theirs)
        return value
    if isinstance(value, dict):
        return {_renamed(k, ids): _renamed(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, ids) for v in value]
    return value


def compare(official: Captured, ours: Captured, intended: dict[str, str],
            ids: dict[str, str] | None = None) -> None:
    """Assert two requests match field by field, except the intended differences.

    Args:
        official: what the provider's own tool (or its published example) sent.
        ours: what tuneport sent for the same intent.
        intended: dotted field (a query parameter by its name) -> why tuneport differs
            there. Each must really differ, so the list cannot outlive its difference.
        ids: tuneport's ids -> the official side's, for objects each side made itself.
    """
    ids = ids or {}
    assert (ours.method, _renamed(ours.path, ids)) == (official.method, official.path)
    mine_q, theirs_q = _renamed(ours.query, ids), official.query
    for key in mine_q.keys() | theirs_q.keys():
        if key not in intended:
            assert mine_q.get(key) == theirs_q.get(key), f"query {key}"
    mine = {**flatten(_renamed(ours.body or {}, ids)),
            **{k: v for k, v in mine_q.items() if k in intended}}
    theirs = {**flatten(official.body or {}),
              **{k: v for k, v in theirs_q.items() if k in intended}}
    differing = {k for k in mine.keys() | theirs.keys()
                 if mine.get(k, "<absent>") != theirs.get(k, "<absent>")}
    unexplained = {k: (theirs.get(k, "<absent>"), mine.get(k, "<absent>"))
                   for k in differing - set(intended)}
    assert unexplained == {}, \
        f"fields that differ without a reason (official, tuneport): {unexplained}"
    stale = set(intended) - differing
    assert stale == set(), f"listed differences that no longer differ: {stale}"


def typed_keys(params: Any) -> tuple[set[str], set[str]]:
    """(required, allowed) wire names of an SDK's request ``TypedDict``.

    Reads ``Required[...]`` and the Stainless ``PropertyInfo(alias=...)`` annotations, so
    the names are the JSON keys on the wire (``baseModel``), not the Python ones.
    """
    import typing

    required: set[str] = set()
    allowed: set[str] = set()
    for name, hint in typing.get_type_hints(params, include_extras=True).items():
        wire_name, is_required = name, False
        while True:
            origin = typing.get_origin(hint)
            if origin is typing.Annotated:
                for meta in hint.__metadata__:
                    alias = getattr(meta, "alias", None)
                    if alias:
                        wire_name = alias
                hint = typing.get_args(hint)[0]
            elif origin is typing.Required or origin is typing.NotRequired:
                is_required = origin is typing.Required
                hint = typing.get_args(hint)[0]
            else:
                break
        allowed.add(wire_name)
        if is_required:
            required.add(wire_name)
    return required, allowed


def official(method: str, path: str, body: Any = None,
             query: dict[str, list[str]] | None = None) -> Captured:
    """A request written out from a provider's published reference (no tool sends it)."""
    raw = json.dumps(body).encode() if body is not None else b""
    is_form = isinstance(body, dict) and body.get("__form__")
    form = {k: v for k, v in body.items() if k != "__form__"} if is_form else {}
    return Captured(method, path, query or {}, {}, raw,
                    None if is_form else body, form)
