"""The shop's orders and revenue per week and month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from crm_orders.sales import next_period, period_start
from crm_shared.schemas.orders import SalesInterval
from crm_shared.testing import assert_problem


def test_periods_start_on_monday_and_on_the_first_of_the_month() -> None:
    sunday = dt.date(2026, 3, 1)
    assert period_start(sunday, SalesInterval.week) == dt.date(2026, 2, 23)
    assert period_start(dt.date(2026, 3, 2), SalesInterval.week) == dt.date(2026, 3, 2)
    assert period_start(dt.date(2026, 2, 28), SalesInterval.month) == dt.date(2026, 2, 1)
    assert next_period(dt.date(2026, 12, 1), SalesInterval.month) == dt.date(2027, 1, 1)
    assert next_period(dt.date(2026, 1, 1), SalesInterval.month) == dt.date(2026, 2, 1)


@pytest.fixture
async def planted(client: httpx.AsyncClient, new_customer, new_product, place_order) -> dict:
    """Orders of three customers in February and March 2026, one cancelled, one in USD."""
    eur = await new_product(price="10.00")
    usd = await new_product(price="7.50", currency="USD")
    ada, bob, cy = await new_customer(), await new_customer(), await new_customer()
    # Week of Mon 23 Feb: Ada twice (Sat 28 Feb, Sun 1 Mar), Bob once (Mon 23 Feb).
    await place_order(ada, eur, quantity=2, placed_at="2026-02-28T23:30:00Z")
    await place_order(ada, eur, placed_at="2026-03-01T08:00:00Z")
    await place_order(bob, eur, quantity=3, placed_at="2026-02-23T00:00:00Z")
    # Week of Mon 9 Mar: Cy in USD, and a cancelled order of Bob left out of every figure.
    await place_order(cy, usd, quantity=2, placed_at="2026-03-12T10:00:00Z", currency="USD")
    cancelled = await place_order(bob, eur, quantity=9, placed_at="2026-03-10T10:00:00Z")
    response = await client.post(
        f"/v1/orders/{cancelled['id']}/status", json={"status": "cancelled"}
    )
    assert response.status_code == 200, response.text
    return {"ada": ada, "bob": bob, "cy": cy}


def _by_period(body: dict, currency: str) -> dict[str, tuple[int, int, Decimal]]:
    return {
        period["period_start"]: (
            period["orders"],
            period["customers"],
            Decimal(period["net_revenue"]),
        )
        for period in body["periods"]
        if period["currency"] == currency
    }


async def test_weeks_hold_the_orders_placed_in_them(client: httpx.AsyncClient, planted) -> None:
    response = await client.get("/v1/orders/summary", params={"interval": "week", "periods": 4})
    assert response.status_code == 200, response.text
    body = response.json()
    # The last period holds the latest order (12 Mar); four weeks back from it.
    assert body["start"] == "2026-02-16"
    assert body["end"] == "2026-03-16"
    assert body["currencies"] == ["EUR", "USD"]
    assert body["orders"] == 4
    assert body["customers"] == 3
    eur = _by_period(body, "EUR")
    assert list(eur) == ["2026-02-16", "2026-02-23", "2026-03-02", "2026-03-09"]
    assert eur["2026-02-16"] == (0, 0, Decimal("0.00"))
    assert eur["2026-02-23"] == (3, 2, Decimal("60.00"))
    assert eur["2026-03-02"] == (0, 0, Decimal("0.00"))
    assert eur["2026-03-09"] == (0, 0, Decimal("0.00"))
    assert _by_period(body, "USD")["2026-03-09"] == (1, 1, Decimal("15.00"))


async def test_months_and_an_explicit_window(client: httpx.AsyncClient, planted) -> None:
    response = await client.get(
        "/v1/orders/summary", params={"interval": "month", "periods": 3, "until": "2026-03-31"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["start"], body["end"]) == ("2026-01-01", "2026-04-01")
    eur = _by_period(body, "EUR")
    assert eur == {
        "2026-01-01": (0, 0, Decimal("0.00")),
        "2026-02-01": (2, 2, Decimal("50.00")),
        "2026-03-01": (1, 1, Decimal("10.00")),
    }
    # A window before every order is empty, with no currency to list.
    early = await client.get(
        "/v1/orders/summary", params={"interval": "month", "periods": 2, "until": "2025-06-01"}
    )
    assert early.json() == {
        "interval": "month",
        "start": "2025-05-01",
        "end": "2025-07-01",
        "currencies": [],
        "orders": 0,
        "customers": 0,
        "periods": [],
    }


async def test_bad_parameters_are_422(client: httpx.AsyncClient) -> None:
    for params in ({"interval": "day"}, {"periods": 0}, {"periods": 521}, {"until": "soon"}):
        assert_problem(await client.get("/v1/orders/summary", params=params), 422)


async def test_a_window_past_the_calendar_is_422(client: httpx.AsyncClient) -> None:
    for params in (
        {"until": "9999-12-31", "interval": "week"},
        {"until": "9999-12-31", "interval": "month"},
        {"until": "0001-01-03", "interval": "week", "periods": 52},
        {"until": "0001-03-01", "interval": "month"},
    ):
        answer = await client.get("/v1/orders/summary", params=params)
        assert_problem(answer, 422)
        assert answer.json()["type"].endswith("window-out-of-range"), answer.json()
