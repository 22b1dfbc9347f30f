"""Structured logs: one JSON object per line, carrying the id of the request being served (if any)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
logger = logging.getLogger("rawan.serve")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", "request_id", ...extra}`; extras come from `logger.info(..., extra={})`."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            out["request_id"] = rid
        out.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED and k != "request_id"})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO") -> None:
    """Send rawan and uvicorn logs to stderr as JSON lines (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("rawan", "uvicorn", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers = [handler]
        log.setLevel(level)
        log.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our middleware writes the access log


def uvicorn_log_config(level: str = "INFO") -> dict:
    """A `log_config` for uvicorn.run that formats its own records as JSON too."""
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": "serve.logging.JsonFormatter"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                    "stream": "ext://sys.stderr"}},
            "loggers": {"uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
                        "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
                        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
                        "rawan": {"handlers": ["stderr"], "level": level, "propagate": False}}}
