"""Pure ASGI middleware: request ids, access logs, Prometheus metrics and the service token."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_shared.errors import problem_type
from crm_shared.json import dumps
from crm_shared.logs import bind_request_id, current_request_id, unbind_request_id

REQUEST_ID_HEADER = "x-request-id"
SERVICE_TOKEN_HEADER = "x-service-token"  # noqa: S105 - a header name, not a secret
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

access_log = logging.getLogger("crm.access")


class Metrics:
    """The request metrics of one process, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route.",
            ["service", "method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.service = service
        # Looking up a labelled series costs more than updating it: done once per series.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(self.service, method, route, str(status)),
                self.latency.labels(self.service, method, route),
            )
        series[0].inc()
        series[1].observe(seconds)


class ObservabilityMiddleware:
    """Accepts or creates `X-Request-ID`, returns it, logs and measures every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or secrets.token_hex(16)
        token = bind_request_id(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.observe(method, template, status, elapsed)
            if template not in ("/health", "/metrics") and access_log.isEnabledFor(logging.INFO):
                # Made directly: `info()` would walk the stack for a caller no line shows.
                record = access_log.makeRecord(
                    access_log.name,
                    logging.INFO,
                    "",
                    0,
                    "request",
                    (),
                    None,
                    extra={
                        "method": method,
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
                access_log.handle(record)
            unbind_request_id(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            return candidate if _VALID_REQUEST_ID.match(candidate) else None
    return None


class ServiceTokenMiddleware:
    """Refuses `/v1` calls that do not carry the internal service token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1"):
            presented = next(
                (v for k, v in scope["headers"] if k == SERVICE_TOKEN_HEADER.encode()), b""
            )
            if not secrets.compare_digest(presented, self.token):
                await _unauthorized(scope, send)
                return
        await self.app(scope, receive, send)


async def _unauthorized(scope: Scope, send: Send) -> None:
    body = dumps(
        {
            "type": problem_type("invalid-service-token"),
            "title": "Unauthorized",
            "status": 401,
            "detail": "This service accepts calls only with the internal service token.",
            "instance": scope["path"],
            "request_id": current_request_id(),
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
