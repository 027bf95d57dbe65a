"""JSON logs, one object per line, each carrying the id of the request it belongs to."""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import queue
import sys
from contextvars import ContextVar
from logging.handlers import QueueHandler, QueueListener
from typing import Any

import orjson

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str | None) -> object:
    return _request_id.set(request_id)


def unbind_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": _request_id.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


_listener: QueueListener | None = None


def _stop_writer() -> None:
    """Flush what is queued when the process exits."""
    if _listener is not None:
        _listener.stop()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one JSON handler on stderr.

    Lines are formatted where they are logged (the request id lives in that context) and
    written by a background thread, so a slow stderr never stalls the event loop.
    """
    global _listener
    if _listener is None:
        atexit.register(_stop_writer)
    else:
        _listener.stop()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(records, logging.StreamHandler(sys.stderr))
    _listener.start()
    handler = QueueHandler(records)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Our middleware writes one access line per request, with the request id.
    logging.getLogger("uvicorn.access").disabled = True
