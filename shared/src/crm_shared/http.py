"""HTTP clients for calls between services: timeouts, bounded retries, the service token."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable

import httpx

from crm_shared.logs import current_request_id
from crm_shared.middleware import REQUEST_ID_HEADER, SERVICE_TOKEN_HEADER

log = logging.getLogger("crm.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


class RetryingTransport(httpx.AsyncBaseTransport):
    """Retries idempotent requests on connection errors and 502/503/504, with jittered backoff.

    A POST is never retried here: retrying a write is the caller's decision, made safe
    with an `Idempotency-Key`.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        retries: int = 2,
        backoff_seconds: float = 0.05,
        methods: Iterable[str] = IDEMPOTENT_METHODS,
    ) -> None:
        self.inner = inner
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.methods = frozenset(methods)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempts = self.retries + 1 if request.method in self.methods else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self.inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError):
                if last:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return response
                await response.aclose()
            delay = self.backoff_seconds * (2**attempt) * (0.5 + random.random())  # noqa: S311
            log.info("retrying upstream call", extra={"url": str(request.url), "attempt": attempt})
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _propagate_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def service_client(
    base_url: str,
    service_token: str,
    *,
    timeout_seconds: float = 5.0,
    connect_timeout_seconds: float = 1.0,
    retries: int = 2,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for calling a sibling service by its internal URL."""
    inner = transport or httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
    )
    return httpx.AsyncClient(
        base_url=base_url,
        transport=RetryingTransport(inner, retries=retries),
        timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
        headers={SERVICE_TOKEN_HEADER: service_token},
        event_hooks={"request": [_propagate_request_id]},
    )
