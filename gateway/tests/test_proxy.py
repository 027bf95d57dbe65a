"""Pass-through to the services: requests and answers intact, headers as they should be,
request ids carried, retries of idempotent calls only, fast failures when a service is down."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx

from crm_gateway.edge import FastLane
from crm_shared.testing import TEST_SERVICE_TOKEN, ServiceProcess, assert_problem


async def test_customer_calls_pass_through_intact(new_key, client_with) -> None:
    key = await new_key("backoffice")
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    async with client_with(key) as http:
        created = await http.post(
            "/v1/customers", json={"email": email, "first_name": "Ada", "tags": ["vip"]}
        )
        assert created.status_code == 201, created.text
        customer = created.json()
        read = await http.get(f"/v1/customers/{customer['id']}")
        listed = await http.get("/v1/customers", params={"email": email})
        patched = await http.patch(f"/v1/customers/{customer['id']}", json={"last_name": "L"})
        invalid = await http.post("/v1/customers", json={"email": "not an email"})
        missing = await http.get(f"/v1/customers/{uuid.uuid4()}")
        deleted = await http.delete(f"/v1/customers/{customer['id']}")
    assert read.json() == customer
    assert [item["id"] for item in listed.json()["items"]] == [customer["id"]]
    assert patched.json()["last_name"] == "L"
    assert_problem(invalid, 422, "validation-error")
    assert_problem(missing, 404)
    assert deleted.status_code == 204
    assert deleted.content == b""


async def test_a_retried_create_with_an_idempotency_key_stores_one_ticket(
    new_key, client_with
) -> None:
    key = await new_key("backoffice")
    async with client_with(key) as http:
        customer = (
            await http.post("/v1/customers", json={"email": f"{uuid.uuid4().hex}@example.com"})
        ).json()
        ticket = {
            "customer_id": customer["id"],
            "kind": "inquiry",
            "subject": "Where is my parcel?",
            "body": "It has been a week.",
        }
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        first = await http.post("/v1/tickets", json=ticket, headers=headers)
        again = await http.post("/v1/tickets", json=ticket, headers=headers)
        tickets = await http.get(f"/v1/customers/{customer['id']}/tickets")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len(tickets.json()["items"]) == 1


async def test_the_request_id_reaches_the_service_and_comes_back(
    new_key, client_with, customer_service: ServiceProcess
) -> None:
    key = await new_key("backoffice")
    given = f"gw-test-{uuid.uuid4().hex[:8]}"
    async with client_with(key) as http:
        chosen = await http.get("/v1/customers?limit=1", headers={"X-Request-ID": given})
        made_up = await http.get("/v1/tags")
    assert chosen.headers["x-request-id"] == given
    generated = made_up.headers["x-request-id"]
    assert generated
    logged: set[str] = set()
    for _ in range(50):  # the service writes its log lines off the event loop
        logged = {
            json.loads(line).get("request_id")
            for line in customer_service.log_lines()
            if line.startswith("{")
        }
        if {given, generated} <= logged:
            break
        await asyncio.sleep(0.1)
    assert given in logged
    assert generated in logged


async def test_only_safe_headers_are_forwarded_and_the_service_token_added(
    lone_gateway, stub_service
) -> None:
    async with lone_gateway(customer_url=stub_service.url) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            response = await http.get(
                "/v1/tags/echo?b=2&a=1",
                headers={
                    "Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef",
                    "X-API-Key": "another",
                    "X-Service-Token": "forged",
                    "Cookie": "session=1",
                    "Accept": "application/json",
                    "Idempotency-Key": "k-1",
                    "X-Request-ID": "echo-1",
                    "Connection": "keep-alive, x-private",
                    "X-Private": "hop",
                },
            )
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["path"] == "/v1/tags/echo"
    assert echoed["query"] == "b=2&a=1"
    received = echoed["headers"]
    assert received["x-service-token"] == [TEST_SERVICE_TOKEN]
    assert received["x-request-id"] == ["echo-1"]
    assert received["idempotency-key"] == ["k-1"]
    assert received["accept"] == ["application/json"]
    for dropped in ("authorization", "x-api-key", "cookie", "x-private"):
        assert dropped not in received
    assert response.headers["x-stub"] == "1"
    assert response.headers.get_list("x-request-id") == ["echo-1"]


async def test_idempotent_calls_are_retried_and_writes_are_not(lone_gateway, stub_service) -> None:
    async with lone_gateway(customer_url=stub_service.url, upstream_retries=2) as app:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as http:
            read_key, write_key, hopeless_key = (uuid.uuid4().hex for _ in range(3))
            read = await http.get(f"/v1/tickets/flaky?key={read_key}&fail=2")
            write = await http.post(f"/v1/tickets/flaky?key={write_key}&fail=1", json={})
            hopeless = await http.get(f"/v1/tickets/flaky?key={hopeless_key}&fail=5")
    assert read.status_code == 200
    assert read.json()["calls"] == 3  # two 503s retried, the third answered
    assert write.status_code == 503  # a POST is passed back as it came, never retried
    assert write.json()["calls"] == 1
    assert hopeless.status_code == 503  # three tries at most
    assert hopeless.json()["calls"] == 3


async def test_a_silent_service_gives_504_after_the_route_timeout(
    lone_gateway, stub_service
) -> None:
    async with lone_gateway(customer_url=stub_service.url, upstream_timeout_seconds=0.5) as app:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as http:
            started = time.monotonic()
            response = await http.get("/v1/customers/silent")
            elapsed = time.monotonic() - started
    problem = assert_problem(response, 504, "upstream-timeout")
    assert problem["upstream"] == "customer"
    assert elapsed < 2.0


async def test_a_service_that_dies_during_a_small_answer_gives_502(
    lone_gateway, stub_service
) -> None:
    async with lone_gateway(customer_url=stub_service.url) as app:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as http:
            response = await http.get("/v1/customers/cut-short")
    problem = assert_problem(response, 502, "upstream-failed")
    assert problem["upstream"] == "customer"


async def test_a_service_that_is_down_gives_a_fast_503(new_key, client_with) -> None:
    key = await new_key("storefront")
    async with client_with(key) as http:
        started = time.monotonic()
        response = await http.get("/v1/products")
        elapsed = time.monotonic() - started
    problem = assert_problem(response, 503, "upstream-unavailable")
    assert problem["upstream"] == "orders"
    assert "retry-after" in response.headers
    assert elapsed < 1.0


async def test_the_fast_lane_answers_as_the_app_does(app, new_key) -> None:
    """The process serves `FastLane(app)`: proxied calls skip the framework's layers but
    keep keys, scopes, request ids and metrics; the gateway's own routes go in as usual."""
    key = await new_key("backoffice")
    lane = FastLane(app)
    transport = httpx.ASGITransport(app=lane, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        headers = {"X-API-Key": key}
        created = await http.post(
            "/v1/customers", json={"email": f"{uuid.uuid4().hex}@example.com"}, headers=headers
        )
        read = await http.get(
            f"/v1/customers/{created.json()['id']}",
            headers={**headers, "X-Request-ID": "lane-1"},
        )
        keyless = await http.get("/v1/customers")
        forbidden = await http.get("/v1/admin/keys", headers=headers)
        health = await http.get("/health")
        metrics = await http.get("/metrics")
    assert created.status_code == 201, created.text
    assert read.json() == created.json()
    assert read.headers["x-request-id"] == "lane-1"
    assert len(created.headers["x-request-id"]) == 32
    assert "ratelimit-limit" in read.headers
    assert_problem(keyless, 401, "missing-api-key")
    assert_problem(forbidden, 403, "insufficient-scope")
    assert health.status_code == 200
    assert 'route="/v1/customers/**",service="gateway",status="200"' in metrics.text
