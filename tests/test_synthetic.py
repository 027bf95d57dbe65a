"""The synthetic shop: deterministic, valid for the APIs it is loaded through, and carrying
the structure it plants (seasonality, personas, co-purchases, ratings by quality)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from itertools import combinations
from statistics import mean

import pytest

from crm_shared import synthetic
from crm_shared.schemas.catalogue import ProductCreate
from crm_shared.schemas.customers import CustomerCreate
from crm_shared.schemas.interactions import InteractionCreate
from crm_shared.schemas.orders import OrderImport, OrderStatus
from crm_shared.schemas.tickets import TicketCreate

END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def shop() -> synthetic.Shop:
    return synthetic.shop(2000, seed=5, end=END)


def _placed(order: dict[str, object]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(order["placed_at"]))


def test_the_same_seed_gives_the_same_shop() -> None:
    first = synthetic.shop(150, seed=11, end=END)
    again = synthetic.shop(150, seed=11, end=END)
    other = synthetic.shop(150, seed=12, end=END)
    for part in ("customers", "products", "orders", "refunds", "interactions", "tickets"):
        assert getattr(first, part) == getattr(again, part), part
    assert first.profiles == again.profiles
    assert first.orders != other.orders
    assert first.interactions != other.interactions


def test_every_row_is_valid_for_the_api_it_is_loaded_through() -> None:
    small = synthetic.shop(300, seed=3, end=END)
    ids = {customer["external_ref"]: uuid.uuid4() for customer in small.customers}
    for customer in small.customers:
        CustomerCreate.model_validate(customer)
    skus = {ProductCreate.model_validate(product).sku for product in small.products}
    assert len(skus) == len(small.products), "skus are unique"
    refs = set()
    for order in small.orders:
        payload = {k: v for k, v in order.items() if k != "customer_ref"}
        parsed = OrderImport.model_validate({**payload, "customer_id": ids[order["customer_ref"]]})
        assert parsed.placed_at is not None
        assert parsed.placed_at < END
        assert {line.sku for line in parsed.lines} <= skus
        refs.add(parsed.external_ref)
    assert len(refs) == len(small.orders), "order refs are unique"
    events = set()
    for event in small.interactions:
        payload = {k: v for k, v in event.items() if k != "customer_ref"}
        if event["customer_ref"] is not None:
            payload["customer_id"] = ids[event["customer_ref"]]
        parsed_event = InteractionCreate.model_validate(payload)
        assert parsed_event.sku in skus
        assert parsed_event.occurred_at < END
        events.add(parsed_event.event_id)
    assert len(events) == len(small.interactions), "event ids are unique"
    for ticket in small.tickets:
        TicketCreate.model_validate(
            {
                "customer_id": ids[ticket["customer_ref"]],
                **{name: ticket[name] for name in ("kind", "subject", "body")},
            }
        )


def test_orders_follow_the_week_and_the_year(shop: synthetic.Shop) -> None:
    by_weekday = Counter(_placed(order).weekday() for order in shop.orders)
    sunday, wednesday = by_weekday[6], by_weekday[2]
    assert sunday > 1.3 * wednesday
    # The last full year of the window: December against the summer months (per day).
    year = Counter((_placed(order).year, _placed(order).month) for order in shop.orders)
    december = year[2025, 12] / 31
    summer = (year[2025, 7] + year[2025, 8]) / 62
    assert december > 1.6 * summer


def test_cancellations_and_refunds_are_there(shop: synthetic.Shop) -> None:
    statuses = Counter(order["status"] for order in shop.orders)
    assert statuses[OrderStatus.cancelled] > 0.02 * len(shop.orders)
    assert statuses[OrderStatus.refunded] > 0.01 * len(shop.orders)
    assert statuses[OrderStatus.delivered] > 0.8 * len(shop.orders)
    orders = {order["external_ref"]: order for order in shop.orders}
    assert shop.refunds
    for plan in shop.refunds:
        order = orders[plan.order_ref]
        assert order["status"] == OrderStatus.delivered
        for line_number, quantity in plan.lines:
            assert 1 <= quantity <= order["lines"][line_number - 1]["quantity"]


def test_personas_buy_as_planted(shop: synthetic.Shop) -> None:
    orders_of: dict[str, list[dict[str, object]]] = defaultdict(list)
    for order in shop.orders:
        orders_of[str(order["customer_ref"])].append(order)
    by_persona: dict[str, list[str]] = defaultdict(list)
    for ref, profile in shop.profiles.items():
        by_persona[profile.persona].append(ref)
    assert set(by_persona) == set(synthetic.PERSONAS)
    assert all(len(orders_of[ref]) == 1 for ref in by_persona["one_off"])
    assert all(not orders_of[ref] for ref in by_persona["browser"])
    lapsed_until = shop.start + (shop.end - shop.start) * synthetic.LAPSED_UNTIL
    lapsed_orders = [order for ref in by_persona["lapsed"] for order in orders_of[ref]]
    assert lapsed_orders
    assert max(_placed(order) for order in lapsed_orders) < lapsed_until + dt.timedelta(days=1)

    def orders_per_customer(persona: str) -> float:
        return mean(len(orders_of[ref]) for ref in by_persona[persona])

    assert orders_per_customer("loyal") > 2 * orders_per_customer("regular")
    assert orders_per_customer("regular") > 1.5
    recent = shop.end - dt.timedelta(days=90)
    loyal_recent = mean(
        any(_placed(order) > recent for order in orders_of[ref]) for ref in by_persona["loyal"]
    )
    assert loyal_recent > 0.6, "most loyal customers bought in the last quarter"


def test_customers_buy_from_their_favourite_categories(shop: synthetic.Shop) -> None:
    category = {product["sku"]: product["category_path"].split("/")[0] for product in shop.products}
    favourite = total = 0
    for order in shop.orders:
        favourites = shop.profiles[str(order["customer_ref"])].favourite_categories
        for line in order["lines"]:
            total += 1
            favourite += category[line["sku"]] in favourites
    assert favourite / total > 0.75


def test_planted_pairs_are_bought_together(shop: synthetic.Shop) -> None:
    baskets = [frozenset(line["sku"] for line in order["lines"]) for order in shop.orders]
    single = Counter(sku for basket in baskets for sku in basket)
    pairs = Counter(pair for basket in baskets for pair in combinations(sorted(basket), 2))
    lifts = []
    for first, second in shop.co_purchases:
        together = pairs[tuple(sorted((first, second)))]
        expected = single[first] * single[second] / len(baskets)
        lifts.append(together / expected)
    assert min(lifts) > 3
    # Against pairs nobody planted: ordinary pairs are bought together about by chance.
    planted = {tuple(sorted(pair)) for pair in shop.co_purchases}
    ordinary = [
        count * len(baskets) / (single[a] * single[b])
        for (a, b), count in pairs.most_common(200)
        if (a, b) not in planted
    ]
    assert mean(lifts) > 3 * mean(ordinary)


def test_ratings_follow_product_quality_and_events_precede_purchases(
    shop: synthetic.Shop,
) -> None:
    ratings: dict[str, list[int]] = defaultdict(list)
    for event in shop.interactions:
        if event["kind"] in ("rating", "review"):
            ratings[event["sku"]].append(event["rating"])
    ranked = sorted(ratings, key=lambda sku: shop.quality[sku])
    quarter = len(ranked) // 4
    low = mean(r for sku in ranked[:quarter] for r in ratings[sku])
    high = mean(r for sku in ranked[-quarter:] for r in ratings[sku])
    assert high > low + 1
    kinds = Counter(event["kind"] for event in shop.interactions)
    assert set(kinds) == {"view", "add_to_cart", "remove_from_cart", "wishlist", "rating", "review"}
    assert any(event["customer_ref"] is None for event in shop.interactions), "visitors too"
    # A customer viewed most of what they bought before buying it.
    first_view: dict[tuple[object, object], str] = {}
    for event in shop.interactions:
        if event["kind"] == "view":
            key = (event["customer_ref"], event["sku"])
            first_view[key] = min(first_view.get(key, "~"), str(event["occurred_at"]))
    seen_before = total = 0
    for order in shop.orders:
        for line in order["lines"]:
            total += 1
            viewed = first_view.get((order["customer_ref"], line["sku"]))
            seen_before += viewed is not None and viewed < str(order["placed_at"])
    assert seen_before / total > 0.8
