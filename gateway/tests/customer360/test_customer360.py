"""Customer 360: gathered from every service, partial with reasons when some are down."""

from __future__ import annotations

import uuid

import httpx

from crm_shared.testing import assert_problem


async def _customer_with_tickets(http: httpx.AsyncClient) -> tuple[dict, dict[str, str]]:
    customer = (
        await http.post(
            "/v1/customers", json={"email": f"{uuid.uuid4().hex}@example.com", "first_name": "Jo"}
        )
    ).json()
    ticket_ids = {}
    for subject, status in (("first", "open"), ("second", "pending"), ("third", "resolved")):
        ticket = await http.post(
            "/v1/tickets",
            json={
                "customer_id": customer["id"],
                "kind": "inquiry",
                "subject": subject,
                "body": "A question.",
            },
        )
        assert ticket.status_code == 201, ticket.text
        ticket_ids[subject] = ticket.json()["id"]
        if status != "open":
            moved = await http.patch(f"/v1/tickets/{ticket.json()['id']}", json={"status": status})
            assert moved.status_code == 200, moved.text
    return customer, ticket_ids


async def test_the_360_holds_the_profile_and_open_tickets_and_marks_what_is_down(
    new_key, client_with
) -> None:
    key = await new_key("backoffice")
    async with client_with(key) as http:
        customer, tickets = await _customer_with_tickets(http)
        response = await http.get(f"/v1/customers/{customer['id']}/360")
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["customer"] == customer
    assert [ticket["id"] for ticket in view["open_tickets"]] == [
        tickets["second"],
        tickets["first"],
    ]  # newest first; the resolved one is left out
    assert {ticket["status"] for ticket in view["open_tickets"]} == {"open", "pending"}
    assert view["partial"] is True
    assert view["order_summary"] is None
    assert view["scores"] is None
    assert view["recommendations"] is None
    unavailable = {part["part"]: part for part in view["unavailable"]}
    assert set(unavailable) == {"order_summary", "scores", "recommendations"}
    assert unavailable["order_summary"]["service"] == "orders"
    assert {part["reason"] for part in unavailable.values()} == {"upstream-unavailable"}


async def test_a_part_a_running_service_does_not_offer_is_not_available(
    lone_gateway, customer_service
) -> None:
    # The customer service stands in for orders: it is up, but has no order summary.
    async with lone_gateway(orders_url=customer_service.url) as app:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as http:
            customer = (
                await http.post("/v1/customers", json={"email": f"{uuid.uuid4().hex}@x.example"})
            ).json()
            view = (await http.get(f"/v1/customers/{customer['id']}/360")).json()
    assert view["open_tickets"] == []
    unavailable = {part["part"]: part for part in view["unavailable"]}
    assert unavailable["order_summary"]["reason"] == "not-available"
    assert unavailable["order_summary"]["detail"] == "answered 404"
    assert unavailable["scores"]["reason"] == "upstream-unavailable"


async def test_an_unknown_customer_is_404(new_key, client_with) -> None:
    key = await new_key("backoffice")
    async with client_with(key) as http:
        response = await http.get(f"/v1/customers/{uuid.uuid4()}/360")
        malformed = await http.get("/v1/customers/not-a-uuid/360")
    assert_problem(response, 404, "customer-not-found")
    assert_problem(malformed, 422, "validation-error")


async def test_without_the_customer_service_there_is_no_360(lone_gateway) -> None:
    async with lone_gateway(customer_url="http://127.0.0.1:9", required_upstreams="") as app:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as http:
            response = await http.get(f"/v1/customers/{uuid.uuid4()}/360")
    problem = assert_problem(response, 503, "upstream-unavailable")
    assert problem["upstream"] == "customer"


async def test_marketing_and_storefront_keys_may_not_read_a_360(new_key, client_with) -> None:
    for role in ("marketing", "storefront"):
        key = await new_key(role)
        async with client_with(key) as http:
            response = await http.get(f"/v1/customers/{uuid.uuid4()}/360")
        assert_problem(response, 403, "insufficient-scope")
