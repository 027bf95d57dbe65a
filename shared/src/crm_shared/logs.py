"""JSON logs, one object per line, each carrying the id of the request it belongs to."""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import sys
import threading
from contextvars import ContextVar
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


class _BatchWriter(logging.Handler):
    """Keeps each formatted line; a background thread writes what gathered every
    `interval_seconds`, so a slow stderr never stalls the event loop.

    One write per batch rather than a hand-over per line: passing every record to a writer
    thread makes the two threads trade the GIL once per line, which under load cost more
    than formatting the line (measured in bench/gateway_proxy.py).
    """

    def __init__(self, stream: Any, interval_seconds: float = 0.05) -> None:
        super().__init__()
        self.stream = stream
        self.interval_seconds = interval_seconds
        self._lines: list[str] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_seconds):
            self.flush()

    def flush(self) -> None:
        self.acquire()  # emit() runs under the same lock: no line is lost in the swap
        try:
            lines, self._lines = self._lines, []
        finally:
            self.release()
        if lines:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()

    def close(self) -> None:
        self._stopped.set()
        self.flush()
        super().close()


_writer: _BatchWriter | None = None


def _stop_writer() -> None:
    """Write what is gathered when the process exits."""
    if _writer is not None:
        _writer.close()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one JSON handler on stderr.

    Lines are formatted where they are logged (the request id lives in that context) and
    written in batches by a background thread, so a slow stderr never stalls the event loop.
    """
    global _writer
    if _writer is None:
        atexit.register(_stop_writer)
    else:
        _writer.close()
    _writer = _BatchWriter(sys.stderr)
    _writer.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [_writer]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Our middleware writes one access line per request, with the request id.
    logging.getLogger("uvicorn.access").disabled = True
