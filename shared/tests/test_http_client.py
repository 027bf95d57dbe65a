"""The client for calls between services: token, request id, retries for safe methods only."""

from __future__ import annotations

import httpx

from crm_shared.http import service_client
from crm_shared.logs import bind_request_id, unbind_request_id


def _flaky_upstream(failures: int) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """An upstream that answers 503 `failures` times, then 200."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= failures:
            return httpx.Response(503)
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handle), seen


async def test_get_is_retried_and_carries_token_and_request_id() -> None:
    upstream, seen = _flaky_upstream(failures=2)
    token = bind_request_id("req-42")
    try:
        async with service_client("http://customer", "secret", transport=upstream) as client:
            response = await client.get("/v1/customers")
    finally:
        unbind_request_id(token)
    assert response.status_code == 200
    assert len(seen) == 3
    assert seen[0].headers["x-service-token"] == "secret"
    assert seen[0].headers["x-request-id"] == "req-42"


async def test_retries_are_bounded() -> None:
    upstream, seen = _flaky_upstream(failures=10)
    async with service_client("http://c", "s", transport=upstream, retries=2) as client:
        response = await client.get("/x")
    assert response.status_code == 503
    assert len(seen) == 3


async def test_post_is_never_retried() -> None:
    upstream, seen = _flaky_upstream(failures=1)
    async with service_client("http://c", "s", transport=upstream) as client:
        response = await client.post("/v1/orders", json={})
    assert response.status_code == 503
    assert len(seen) == 1
