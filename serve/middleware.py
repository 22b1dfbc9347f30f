"""Pure-ASGI middleware: request ids + access log + metrics, and the body guard (size limit, UTF-8).

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request and the body can be replayed untouched.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from serve.errors import error_body
from serve.logging import request_id
from serve.metrics import Metrics

access = logging.getLogger("rawan.serve.access")
_RID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_QUIET = {"/healthz", "/readyz", "/metrics"}


async def _send_error(send, status: int, message: str, error_type: str) -> None:
    body = json.dumps(error_body(status, message, error_type), ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Gives every request an id (X-Request-ID in, or a new one), logs one JSON line and records metrics."""

    def __init__(self, app, metrics: Metrics, known_paths: frozenset[str] = frozenset()) -> None:
        self.app, self.metrics, self.known_paths = app, metrics, known_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _RID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", None) or (scope["path"] if scope["path"] in self.known_paths else "unmatched")
            self.metrics.observe_request(path, scope["method"], status, seconds)
            level = logging.DEBUG if scope["path"] in _QUIET and status < 400 else logging.INFO
            access.log(level, "request", extra={"method": scope["method"], "path": scope["path"], "status": status,
                                                "ms": round(seconds * 1000, 2), "request_id": rid})
            request_id.reset(token)


class BodyGuardMiddleware:
    """413 for bodies over `max_bytes` (declared or streamed), 400 for bodies that are not UTF-8."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        too_big = f"request body over {self.max_bytes} bytes"
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_bytes:
            return await _send_error(send, 413, too_big, "too_large")
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _send_error(send, 413, too_big, "too_large")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            return await _send_error(send, 400, f"request body is not valid UTF-8 (byte {err.start})", "bad_encoding")
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
