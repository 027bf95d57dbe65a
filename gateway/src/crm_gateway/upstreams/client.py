"""Calls to the services: a pool each, bounded retries of idempotent calls, a breaker each."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from crm_gateway.settings import GatewaySettings
from crm_gateway.upstreams.breaker import CircuitBreaker
from crm_gateway.upstreams.http11 import (
    Body,
    ConnectFailed,
    ConnectionBroken,
    ConnectionPool,
    Response,
    UpstreamTimeout,
)
from crm_shared.http import IDEMPOTENT_METHODS, RETRY_STATUSES
from crm_shared.logs import current_request_id
from crm_shared.middleware import REQUEST_ID_HEADER, SERVICE_TOKEN_HEADER

READY_TIMEOUT_SECONDS = 1.0


class CircuitOpen(Exception):
    """The service's breaker is open: the call was refused without trying."""

    def __init__(self, upstream: str, retry_after: float) -> None:
        super().__init__(f"{upstream} failed repeatedly; calls resume in {retry_after:.1f} s")
        self.upstream = upstream
        self.retry_after = retry_after


class UpstreamNotReady(Exception):
    """The service answered its `/ready` with something else than 200."""


@dataclass
class Upstream:
    name: str
    url: str
    pool: ConnectionPool
    breaker: CircuitBreaker
    service_token: bytes
    retries: int
    backoff_seconds: float = 0.05

    async def call(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: Body,
        *,
        timeout_seconds: float,
        content_length: int | None = None,
    ) -> Response:
        """One call with the service token; idempotent calls with a body held in memory are
        retried on connection failures and 502/503/504, with jittered backoff."""
        headers = [(SERVICE_TOKEN_HEADER.encode(), self.service_token), *headers]
        replayable = method in IDEMPOTENT_METHODS and (body is None or isinstance(body, bytes))
        attempts = self.retries + 1 if replayable else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            wait = self.breaker.refusal()
            if wait is not None:
                raise CircuitOpen(self.name, wait)
            try:
                response = await self.pool.request(
                    method,
                    target,
                    headers,
                    body,
                    timeout_seconds=timeout_seconds,
                    content_length=content_length,
                )
            except UpstreamTimeout:
                # Waiting again as long is worse for the caller than an answer now.
                self.breaker.record_failure()
                raise
            except (ConnectFailed, ConnectionBroken):
                self.breaker.record_failure()
                if last:
                    raise
            else:
                self.breaker.record_success()
                if response.status not in RETRY_STATUSES or last:
                    return response
                response.close()
            await asyncio.sleep(self.backoff_seconds * 2**attempt * (0.5 + random.random()))  # noqa: S311
        raise AssertionError("unreachable")

    async def get_json(self, target: str, *, timeout_seconds: float) -> tuple[int, Any]:
        """GET a JSON answer: the status and the decoded body (None when empty)."""
        headers = []
        if request_id := current_request_id():
            headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
        response = await self.call(
            "GET", target.encode(), headers, None, timeout_seconds=timeout_seconds
        )
        try:
            body = await response.read(timeout_seconds)
        finally:
            response.close()
        return response.status, orjson.loads(body) if body else None

    async def check_ready(self) -> None:
        """Raise unless the service's `/ready` answers 200 (breaker and retries left out)."""
        response = await self.pool.request(
            "GET", b"/ready", [], None, timeout_seconds=READY_TIMEOUT_SECONDS
        )
        try:
            await response.read(READY_TIMEOUT_SECONDS)
        finally:
            response.close()
        if response.status != 200:
            raise UpstreamNotReady(f"{self.name} answered {response.status}")


class Upstreams:
    """The configured services by name."""

    def __init__(self, settings: GatewaySettings) -> None:
        token = settings.service_token.get_secret_value().encode()
        self._by_name = {
            name: Upstream(
                name=name,
                url=url,
                pool=ConnectionPool(
                    url,
                    max_connections=settings.upstream_max_connections,
                    connect_timeout=settings.connect_timeout_seconds,
                ),
                breaker=CircuitBreaker(
                    failure_threshold=settings.breaker_failure_threshold,
                    open_seconds=settings.breaker_open_seconds,
                ),
                service_token=token,
                retries=settings.upstream_retries,
            )
            for name, url in settings.upstream_urls().items()
        }

    def get(self, name: str) -> Upstream | None:
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Upstream]:
        return iter(self._by_name.values())

    def close(self) -> None:
        for upstream in self._by_name.values():
            upstream.pool.close()
