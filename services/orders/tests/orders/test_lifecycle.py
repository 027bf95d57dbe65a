"""The status lifecycle, partial and full refunds, and the order-lines feed they move."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from crm_orders.orders.repository import order_lines
from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

ALL = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
ALLOWED = {
    "pending": {"paid", "cancelled"},
    "paid": {"shipped", "cancelled", "refunded"},
    "shipped": {"delivered", "refunded"},
    "delivered": {"refunded"},
    "cancelled": set(),
    "refunded": set(),
}
# How to bring a new (pending) order to each status.
PATH = {
    "pending": [],
    "paid": ["paid"],
    "shipped": ["paid", "shipped"],
    "delivered": ["paid", "shipped", "delivered"],
    "cancelled": ["cancelled"],
    "refunded": ["paid", "refunded"],
}


async def _move(client: httpx.AsyncClient, order_id: str, status: str) -> httpx.Response:
    return await client.post(f"/v1/orders/{order_id}/status", json={"status": status})


async def _line_positions(database: Database, order_id: str) -> list[int]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(
            select(order_lines.c.change_position)
            .where(order_lines.c.order_id == uuid.UUID(order_id))
            .order_by(order_lines.c.line_number)
        )
        return list(rows.scalars())


@pytest.fixture
async def new_order(new_customer, new_product, place_order):
    """Places a pending order of two lines for one customer: a 19.99 mug and a 5.00 pen."""
    customer = await new_customer()
    mug = await new_product(price="19.99")
    pen = await new_product(price="5.00")

    async def create() -> dict:
        order: dict = await place_order(customer, mug, pen)
        return order

    return create


@pytest.mark.parametrize("start", ALL)
async def test_every_transition_is_allowed_or_refused_as_the_table_says(
    client: httpx.AsyncClient, database: Database, new_order, start: str
) -> None:
    for target in ALL:
        order = await new_order()
        for step in PATH[start]:
            assert (await _move(client, order["id"], step)).status_code == 200
        history = len((await client.get(f"/v1/orders/{order['id']}")).json()["status_history"])
        response = await _move(client, order["id"], target)
        if target in ALLOWED[start]:
            assert response.status_code == 200, (start, target, response.text)
            body = response.json()
            assert body["status"] == target
            assert body["status_history"][-1]["from_status"] == start
            assert body["status_history"][-1]["to_status"] == target
        else:
            problem = assert_problem(response, 409, "invalid-transition")
            assert problem["from"] == start
            assert problem["to"] == target
            assert problem["allowed"] == sorted(ALLOWED[start])
            after = (await client.get(f"/v1/orders/{order['id']}")).json()
            assert after["status"] == start
            assert len(after["status_history"]) == history


async def test_the_history_records_each_change_in_order(
    client: httpx.AsyncClient, new_order
) -> None:
    order = await new_order()
    for status in ("paid", "shipped", "delivered"):
        await _move(client, order["id"], status)
    history = (await client.get(f"/v1/orders/{order['id']}")).json()["status_history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "pending"),
        ("pending", "paid"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
    ]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)


async def test_every_change_restamps_all_lines_of_the_order(
    client: httpx.AsyncClient, database: Database, new_order
) -> None:
    order = await new_order()
    other = await new_order()
    seen = await _line_positions(database, order["id"])
    assert len(seen) == 2
    for change in ("paid", "refund", "shipped", "refunded"):
        if change == "refund":
            line = order["lines"][1]["id"]
            response = await client.post(
                f"/v1/orders/{order['id']}/refunds",
                json={"lines": [{"order_line_id": line, "quantity": 1}]},
            )
            assert response.status_code == 201, response.text
        else:
            assert (await _move(client, order["id"], change)).status_code == 200
        positions = await _line_positions(database, order["id"])
        assert min(positions) > max(seen), change
        assert len(set(positions)) == 2
        seen = positions
    assert max(await _line_positions(database, other["id"])) < min(seen)


async def test_refused_changes_move_nothing(
    client: httpx.AsyncClient, database: Database, new_order
) -> None:
    order = await new_order()
    positions = await _line_positions(database, order["id"])
    assert_problem(await _move(client, order["id"], "shipped"), 409)
    refund = {"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]}
    assert_problem(
        await client.post(f"/v1/orders/{order['id']}/refunds", json=refund),
        409,
        "refund-not-allowed",
    )
    assert await _line_positions(database, order["id"]) == positions
    assert await count_rows(database, "refunds") == 0


async def test_partial_refunds_add_up_to_a_full_refund(
    client: httpx.AsyncClient, database: Database, new_customer, new_product, place_order
) -> None:
    customer = await new_customer()
    mug = await new_product(price="10.00")
    pen = await new_product(price="2.50")
    order = await place_order(customer, mug, pen, quantity=3)
    order_id = order["id"]
    # 3 mugs at 10.00 (30.00) and 3 pens at 2.50 (7.50).
    await client.post(f"/v1/orders/{order_id}/status", json={"status": "paid"})
    mugs, pens = order["lines"][0]["id"], order["lines"][1]["id"]
    await client.post(f"/v1/orders/{order_id}/status", json={"status": "shipped"})
    url = f"/v1/orders/{order_id}/refunds"

    first = await client.post(url, json={"lines": [{"order_line_id": mugs, "quantity": 1}]})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "shipped"
    assert body["refunded_total"] == "10.00"
    assert body["refunds"][-1]["lines"] == [
        {"order_line_id": mugs, "quantity": 1, "amount": "10.00"}
    ]

    second = await client.post(
        url,
        json={
            "lines": [
                {"order_line_id": mugs, "quantity": 1, "amount": "4.99"},
                {"order_line_id": pens, "quantity": 0, "amount": "1.00"},
            ],
            "reason": "scratched",
        },
    )
    assert second.status_code == 201, second.text
    body = second.json()
    assert body["refunds"][-1]["amount"] == "5.99"
    assert body["refunds"][-1]["reason"] == "scratched"
    assert body["refunded_total"] == "15.99"
    assert body["lines"][0]["refunded_quantity"] == 2
    assert body["lines"][0]["refunded_amount"] == "14.99"

    too_many = await client.post(url, json={"lines": [{"order_line_id": mugs, "quantity": 2}]})
    problem = assert_problem(too_many, 409, "refund-exceeds-line")
    assert problem["units_left"] == 1
    too_much = await client.post(
        url, json={"lines": [{"order_line_id": pens, "quantity": 0, "amount": "6.51"}]}
    )
    problem = assert_problem(too_much, 409, "refund-exceeds-line")
    assert problem["amount_left"] == "6.50"
    assert await count_rows(database, "refunds") == 2

    # The last mug refunds whatever is left on its line (15.01), the pens the rest.
    last = await client.post(
        url,
        json={
            "lines": [
                {"order_line_id": mugs, "quantity": 1},
                {"order_line_id": pens, "quantity": 3},
            ]
        },
    )
    assert last.status_code == 201, last.text
    body = last.json()
    assert body["refunds"][-1]["lines"] == [
        {"order_line_id": mugs, "quantity": 1, "amount": "15.01"},
        {"order_line_id": pens, "quantity": 3, "amount": "6.50"},
    ]
    assert body["status"] == "refunded"
    assert body["refunded_total"] == body["total"] == "37.50"
    assert body["status_history"][-1] == {
        "from_status": "shipped",
        "to_status": "refunded",
        "at": body["updated_at"],
    }
    assert sum(Decimal(refund["amount"]) for refund in body["refunds"]) == Decimal("37.50")
    after = await client.post(url, json={"lines": [{"order_line_id": pens, "quantity": 1}]})
    assert_problem(after, 409, "refund-not-allowed")


async def test_refunding_by_status_refunds_what_is_left(
    client: httpx.AsyncClient, new_order
) -> None:
    order = await new_order()
    await _move(client, order["id"], "paid")
    await client.post(
        f"/v1/orders/{order['id']}/refunds",
        json={"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]},
    )
    response = await client.post(
        f"/v1/orders/{order['id']}/status", json={"status": "refunded", "reason": "returned"}
    )
    body = response.json()
    assert body["status"] == "refunded"
    assert body["refunded_total"] == body["total"]
    final = body["refunds"][-1]
    assert final["reason"] == "returned"
    assert [line["order_line_id"] for line in final["lines"]] == [order["lines"][1]["id"]]
    assert all(line["refunded_quantity"] == line["quantity"] for line in body["lines"])
    assert all(line["refunded_amount"] == line["line_total"] for line in body["lines"])


async def test_default_refund_amounts_round_half_up_per_unit(
    client: httpx.AsyncClient, new_customer, new_product
) -> None:
    customer = await new_customer()
    product = await new_product(price="10.00")
    order = (
        await client.post(
            "/v1/orders",
            json={
                "customer_id": customer,
                "channel": "web",
                "currency": "EUR",
                "lines": [{"product_id": product["id"], "quantity": 3, "discount": "0.01"}],
            },
        )
    ).json()
    await _move(client, order["id"], "paid")
    line = order["lines"][0]["id"]
    url = f"/v1/orders/{order['id']}/refunds"
    amounts = []
    for _ in range(3):
        response = await client.post(url, json={"lines": [{"order_line_id": line, "quantity": 1}]})
        amounts.append(response.json()["refunds"][-1]["amount"])
    # 29.99 / 3 = 9.996... → 10.00, twice; the last unit gets the 9.99 left.
    assert amounts == ["10.00", "10.00", "9.99"]
    assert response.json()["status"] == "refunded"


async def test_refund_refusals(client: httpx.AsyncClient, database: Database, new_order) -> None:
    order = await new_order()
    other = await new_order()
    await _move(client, order["id"], "paid")
    url = f"/v1/orders/{order['id']}/refunds"
    line = order["lines"][0]["id"]
    foreign = await client.post(
        url, json={"lines": [{"order_line_id": other["lines"][0]["id"], "quantity": 1}]}
    )
    assert_problem(foreign, 422, "order-line-not-found")
    for body in (
        {"lines": []},
        {"lines": [{"order_line_id": line, "quantity": 0}]},
        {"lines": [{"order_line_id": line, "quantity": -1}]},
        {"lines": [{"order_line_id": line, "quantity": 1, "amount": "-1"}]},
        {"lines": [{"order_line_id": line, "quantity": 1}, {"order_line_id": line, "quantity": 1}]},
    ):
        assert_problem(await client.post(url, json=body), 422, "validation-error")
    missing = f"/v1/orders/{uuid.uuid4()}/refunds"
    assert_problem(
        await client.post(missing, json={"lines": [{"order_line_id": line, "quantity": 1}]}),
        404,
        "order-not-found",
    )
    assert_problem(await _move(client, str(uuid.uuid4()), "paid"), 404, "order-not-found")
    assert_problem(await _move(client, order["id"], "lost"), 422, "validation-error")
    assert await count_rows(database, "refunds") == 0
    assert (await client.get(f"/v1/orders/{order['id']}")).json()["refunded_total"] == "0.00"


async def test_a_retried_refund_with_its_key_refunds_once(
    client: httpx.AsyncClient, database: Database, new_order
) -> None:
    order = await new_order()
    await _move(client, order["id"], "paid")
    url = f"/v1/orders/{order['id']}/refunds"
    body = {"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]}
    headers = {"Idempotency-Key": "refund-1"}
    first = await client.post(url, json=body, headers=headers)
    second = await client.post(url, json=body, headers=headers)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await count_rows(database, "refunds") == 1
    moved = await client.post(
        f"/v1/orders/{order['id']}/status", json={"status": "shipped"}, headers=headers
    )
    assert moved.status_code == 200, "a key is scoped to its order and endpoint"
