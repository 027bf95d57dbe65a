"""Rate limits per key, body size limits, and CORS for storefront origins."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from crm_gateway.settings import RateLimit
from crm_shared.testing import assert_problem


async def _key(app, role: str) -> str:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gateway.test",
        headers={"Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef"},
    ) as admin:
        created = await admin.post("/v1/admin/keys", json={"name": "limited", "role": role})
    key: str = created.json()["key"]
    return key


async def test_a_key_past_its_burst_gets_429_with_retry_after(variant, client_with) -> None:
    limits = {"backoffice": RateLimit(per_second=0.5, burst=2)}
    async with variant(role_rate_limits=limits) as app:
        key = await _key(app, "backoffice")
        other = await _key(app, "backoffice")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            headers = {"X-API-Key": key}
            first = await http.get("/v1/customers?limit=1", headers=headers)
            second = await http.get("/v1/customers?limit=1", headers=headers)
            third = await http.get("/v1/customers?limit=1", headers=headers)
            elsewhere = await http.get("/v1/customers?limit=1", headers={"X-API-Key": other})

    assert first.status_code == second.status_code == 200
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert second.headers["ratelimit-remaining"] == "0"
    problem = assert_problem(third, 429, "rate-limited")
    assert problem["status"] == 429
    assert third.headers["ratelimit-remaining"] == "0"
    # One token comes back every 2 s; the whole bucket in 4 s.
    assert 1 <= int(third.headers["retry-after"]) <= 2
    assert 3 <= int(third.headers["ratelimit-reset"]) <= 4
    # Buckets are per key: another key of the same role is unaffected.
    assert elsewhere.status_code == 200


async def test_refused_calls_do_not_spend_a_keys_budget(variant) -> None:
    limits = {"storefront": RateLimit(per_second=0.1, burst=1)}
    async with variant(role_rate_limits=limits) as app:
        key = await _key(app, "storefront")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            forbidden = await http.get("/v1/customers", headers={"X-API-Key": key})
            allowed = await http.get("/v1/products", headers={"X-API-Key": key})
    assert_problem(forbidden, 403, "insufficient-scope")
    assert allowed.status_code != 429


async def test_a_body_over_the_limit_is_413_and_nothing_is_stored(
    lone_gateway, customer_service
) -> None:
    email = "too-large@example.com"
    padding = "x" * 2000
    async with lone_gateway(max_body_bytes=1024) as app:
        key = await _key(app, "backoffice")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            headers = {"X-API-Key": key}
            declared = await http.post(
                "/v1/customers",
                json={"email": email, "first_name": padding},
                headers=headers,
            )

            async def chunks() -> AsyncIterator[bytes]:
                yield b'{"email": "too-large@example.com", "last_name": "'
                for _ in range(10):
                    yield b"y" * 200
                yield b'"}'

            streamed = await http.post(
                "/v1/customers",
                content=chunks(),
                headers={**headers, "content-type": "application/json"},
            )
            small = await http.post(
                "/v1/customers", json={"email": "small@x.example"}, headers=headers
            )
            found = await http.get(f"/v1/customers?email={email}", headers=headers)

    problem = assert_problem(declared, 413, "body-too-large")
    assert problem["limit"] == 1024
    assert_problem(streamed, 413, "body-too-large")
    assert small.status_code in (201, 409)
    assert found.json()["items"] == []


async def test_bulk_routes_take_larger_bodies(lone_gateway, stub_service) -> None:
    body = b"x" * 5000
    async with lone_gateway(
        max_body_bytes=1024, max_bulk_body_bytes=8192, customer_url=stub_service.url
    ) as app:
        key = await _key(app, "backoffice")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            headers = {"X-API-Key": key, "content-type": "text/csv"}
            imported = await http.post("/v1/customers/import", content=body, headers=headers)
            too_big = await http.post("/v1/customers/import", content=body * 2, headers=headers)
    assert imported.status_code == 200, imported.text
    assert imported.json()["bytes"] == len(body)
    assert_problem(too_big, 413, "body-too-large")


async def test_cors_answers_configured_storefront_origins_only(lone_gateway) -> None:
    async with lone_gateway(cors_origins="https://shop.example, https://m.shop.example") as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            preflight = await http.options(
                "/v1/recommendations/abc",
                headers={
                    "Origin": "https://m.shop.example",
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization",
                },
            )
            stranger = await http.options(
                "/v1/recommendations/abc",
                headers={
                    "Origin": "https://evil.example",
                    "Access-Control-Request-Method": "GET",
                },
            )
            unauthorised = await http.get(
                "/v1/products", headers={"Origin": "https://shop.example"}
            )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://m.shop.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert stranger.status_code == 400
    assert "access-control-allow-origin" not in stranger.headers
    # Even a refusal carries the CORS headers, so the browser shows the problem to the page.
    assert unauthorised.status_code == 401
    assert unauthorised.headers["access-control-allow-origin"] == "https://shop.example"
