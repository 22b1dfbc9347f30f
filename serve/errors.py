"""One error body for every failure (`ErrorResponse`) and the handlers that map exceptions to status codes.

422 bad fields, 413 too large, 400 bad encoding, 401/403 admin token, 503 overloaded or not ready (with
Retry-After); anything unexpected is logged with its request id and answered 500 without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.annotations import AnnotationError
from serve.batching import BatcherClosed, Overloaded
from serve.holder import NotReady
from serve.logging import request_id
from serve.schemas import ErrorResponse

log = logging.getLogger("rawan.serve.errors")

_TYPES = {400: "bad_encoding", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 422: "validation", 503: "not_ready", 500: "internal"}


class PayloadTooLarge(Exception):
    """Raised by handlers for limits they check themselves (e.g. the number of articles)."""


def error_body(status: int, message: str, error_type: str | None = None,
               detail: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": message, "error_type": error_type or _TYPES.get(status, "http"), "detail": detail,
            "request_id": request_id.get()}


def error_response(status: int, message: str, error_type: str | None = None, detail=None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, error_type, detail), status_code=status, headers=headers)


def _jsonable(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic error dicts, minus the raw input and context objects (not always JSON-safe, may be huge)."""
    out = []
    for e in errors:
        out.append({"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", ""))})
    return out


def _summary(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e["loc"] if p != "body") or "body"
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of a route (all share ErrorResponse), for OpenAPI and schemathesis."""
    text = {400: "body is not valid UTF-8", 401: "admin token missing", 403: "admin token wrong or not configured",
            413: "body over the size limit or too many articles", 422: "invalid fields (details name each one)",
            409: "reload failed (the old model keeps serving)",
            503: "overloaded or model not ready; retry after the Retry-After seconds"}
    return {c: {"model": ErrorResponse, "description": text.get(c, "error")} for c in codes}


def install(app: FastAPI, retry_after_s: int) -> None:
    retry = {"Retry-After": str(retry_after_s)}

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = _jsonable(list(exc.errors()))
        if any(e["type"] == "json_invalid" for e in errors):
            return error_response(422, "body is not valid JSON", detail=errors)
        if any(e["loc"] == ["body"] and e["type"] in ("model_attributes_type", "dict_type") for e in errors):
            return error_response(422, "body must be a JSON object sent as Content-Type: application/json",
                                  detail=errors)
        return error_response(422, _summary(errors), detail=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return error_response(422, "body is not valid JSON (could not be parsed, e.g. nested too deeply)")
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(PayloadTooLarge)
    async def _too_large(request: Request, exc: PayloadTooLarge):
        return error_response(413, str(exc), "too_large")

    @app.exception_handler(Overloaded)
    async def _overloaded(request: Request, exc: Overloaded):
        request.app.state.metrics.overloaded.inc()
        return error_response(503, f"server busy: {exc}; retry later", "overloaded", headers=retry)

    @app.exception_handler(NotReady)
    async def _not_ready(request: Request, exc: NotReady):
        return error_response(503, f"model not ready: {exc}", "not_ready", headers=retry)

    @app.exception_handler(BatcherClosed)
    async def _closed(request: Request, exc: BatcherClosed):
        return error_response(503, "model is being swapped; retry", "not_ready", headers=retry)

    @app.exception_handler(AnnotationError)
    async def _annotation(request: Request, exc: AnnotationError):
        detail = [{"loc": ["body", "records", str(i)], "msg": reason, "type": "annotation"} for i, reason in exc.errors]
        return error_response(422, f"invalid annotations: {exc}", "validation", detail=detail)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unhandled error", extra={"path": request.url.path})
        return error_response(500, "internal error; see the server log for this request id", "internal")


