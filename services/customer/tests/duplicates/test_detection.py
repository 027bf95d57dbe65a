"""Finding likely duplicates: by canonical email, phone, and name at an address."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crm_shared.pagination import encode_cursor
from crm_shared.testing import assert_problem

MISSING = "01900000-0000-7000-8000-000000000000"


async def _groups(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/customers/duplicates", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    items: list[dict[str, Any]] = body["items"]
    return items


async def _all_pages(client: httpx.AsyncClient, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/customers/duplicates", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not end"


def _group(match: str, *customers: dict[str, Any]) -> dict[str, Any]:
    return {"match": match, "size": len(customers), "customer_ids": [c["id"] for c in customers]}


async def test_gmail_variants_of_one_inbox_are_duplicates(
    client: httpx.AsyncClient, new_customer
) -> None:
    dotted = await new_customer(email="Jo.Doe+shop@gmail.com")
    googlemail = await new_customer(email="jodoe@googlemail.com")
    # Dots matter outside gmail: these are two inboxes.
    await new_customer(email="jo.doe@example.com")
    await new_customer(email="jodoe@example.com")
    tagged = await new_customer(email="anna+newsletter@example.com")
    plain = await new_customer(email="anna@example.com")

    # Groups come in the order of their (hashed) keys, which says nothing about customers.
    groups = await _groups(client, match="email")
    expected = [_group("email", tagged, plain), _group("email", dotted, googlemail)]
    assert sorted(groups, key=str) == sorted(expected, key=str)
    # Nothing else is shared, so the other kinds find nothing.
    assert await _groups(client, match="phone") == []
    assert await _groups(client) == groups


async def test_phones_match_on_their_last_nine_digits(
    client: httpx.AsyncClient, new_customer
) -> None:
    international = await new_customer(phone="+49 30 1234567")
    national = await new_customer(phone="030 1234567")
    with_zeros = await new_customer(phone="0049 (30) 123-4567")
    # One digit off within the last nine: another number.
    await new_customer(phone="+49 30 1234568")
    # Same last eight digits but a different ninth: another number too.
    await new_customer(phone="+49 40 1234567")

    assert await _groups(client, match="phone") == [
        _group("phone", international, national, with_zeros)
    ]


async def test_name_and_address_match_ignoring_case_accents_and_punctuation(
    client: httpx.AsyncClient, new_customer
) -> None:
    zoe = await new_customer(
        first_name="Zoë",
        last_name="O'Brien-Léger",
        address={"line1": "5, Rue de l'Église", "postal_code": "75 001", "city": "Paris"},
    )
    shouted = await new_customer(
        first_name="ZOE",
        last_name="obrien leger",
        address={"line1": "5 rue de l eglise", "postal_code": "75001"},
    )
    # Same person and street, another postal code: not the same address.
    await new_customer(
        first_name="Zoe",
        last_name="OBrien-Leger",
        address={"line1": "5 Rue de l'Eglise", "postal_code": "69001"},
    )
    # No address at all never matches on name alone.
    await new_customer(first_name="Zoe", last_name="OBrien-Leger")
    await new_customer(first_name="Zoe", last_name="OBrien-Leger")

    assert await _groups(client, match="name_address") == [_group("name_address", zoe, shouted)]


async def test_groups_list_only_live_customers(client: httpx.AsyncClient, new_customer) -> None:
    first = await new_customer(phone="+33 6 12 34 56 78")
    second = await new_customer(phone="06 12 34 56 78")
    third = await new_customer(phone="0612345678")
    pair_a = await new_customer(email="pair+a@example.com")
    pair_b = await new_customer(email="pair+b@example.com")

    assert (await client.delete(f"/v1/customers/{second['id']}")).status_code == 204
    assert (await client.delete(f"/v1/customers/{pair_b['id']}")).status_code == 204

    assert await _groups(client) == [_group("phone", first, third)]
    assert (await client.get(f"/v1/customers/{pair_a['id']}/duplicates")).json() == []


async def test_pages_cover_every_group_once_in_a_stable_order(
    client: httpx.AsyncClient, new_customer
) -> None:
    expected: list[dict[str, Any]] = []
    for n in range(5):
        expected.append(
            _group(
                "email",
                await new_customer(email=f"shopper{n}+a@example.com"),
                await new_customer(email=f"shopper{n}+b@example.com"),
            )
        )
    for n in range(3):
        expected.append(
            _group(
                "phone",
                await new_customer(phone=f"+4930555000{n}"),
                await new_customer(phone=f"030555000{n}"),
            )
        )
    for n in range(2):
        address = {"line1": f"{n} Main Street", "postal_code": "12345"}
        expected.append(
            _group(
                "name_address",
                await new_customer(first_name="Sam", last_name="Lee", address=address),
                await new_customer(first_name="sam", last_name="LEE", address=address),
            )
        )

    whole = await _groups(client, limit=500)
    pages = await _all_pages(client, limit=3)
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    paged = [group for page in pages for group in page]
    # Paging gives exactly the one-page answer: nothing lost, nothing repeated.
    assert paged == whole
    assert sorted(map(str, paged)) == sorted(map(str, expected))
    kinds = [group["match"] for group in paged]
    assert kinds == ["email"] * 5 + ["phone"] * 3 + ["name_address"] * 2
    # The same order twice.
    assert await _all_pages(client, limit=3) == pages

    phone_pages = await _all_pages(client, match="phone", limit=2)
    assert [group for page in phone_pages for group in page] == [
        group for group in whole if group["match"] == "phone"
    ]
    # A limit that ends exactly at the last group has no further page.
    exact = await client.get("/v1/customers/duplicates", params={"match": "phone", "limit": 3})
    assert exact.json()["next_cursor"] is None


async def test_a_page_resumes_after_a_group_that_disappeared(
    client: httpx.AsyncClient, new_customer
) -> None:
    first = [
        await new_customer(email="early+1@example.com"),
        await new_customer(email="early+2@example.com"),
    ]
    second = [await new_customer(phone="+49 30 1111111"), await new_customer(phone="030 1111111")]
    page = (await client.get("/v1/customers/duplicates", params={"limit": 1})).json()
    assert page["items"] == [_group("email", *first)]
    assert (await client.delete(f"/v1/customers/{first[1]['id']}")).status_code == 204
    rest = await client.get(
        "/v1/customers/duplicates", params={"limit": 1, "cursor": page["next_cursor"]}
    )
    assert rest.json() == {"items": [_group("phone", *second)], "next_cursor": None}


async def test_large_groups_list_the_oldest_hundred(
    client: httpx.AsyncClient, new_customer
) -> None:
    # A placeholder number many customers were given: the group stays bounded.
    shared = [await new_customer(phone="+44 20 0000 0000") for _ in range(102)]
    (group,) = await _groups(client)
    assert group["size"] == 102
    assert group["customer_ids"] == [customer["id"] for customer in shared[:100]]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": encode_cursor(["email"])},
        {"cursor": encode_cursor(["nickname", "x"])},
        {"cursor": encode_cursor(["email", 5])},
        {"match": "phone", "cursor": encode_cursor(["email", "a@b.io"])},
    ],
)
async def test_a_foreign_cursor_is_refused(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    assert_problem(
        await client.get("/v1/customers/duplicates", params=params), 400, "invalid-cursor"
    )


async def test_unknown_match_kind_and_bad_limit_are_refused(client: httpx.AsyncClient) -> None:
    for params in ({"match": "birthday"}, {"limit": 0}, {"limit": 501}):
        response = await client.get("/v1/customers/duplicates", params=params)
        assert_problem(response, 422, "validation-error")


async def test_one_customers_duplicates_by_every_key(
    client: httpx.AsyncClient, new_customer
) -> None:
    ada = await new_customer(email="ada+work@example.com", phone="+44 20 7946 0018")
    same_inbox = await new_customer(email="ada@example.com")
    same_phone = await new_customer(phone="020 7946 0018")
    loner = await new_customer()

    response = await client.get(f"/v1/customers/{ada['id']}/duplicates")
    assert response.status_code == 200, response.text
    assert response.json() == [_group("email", ada, same_inbox), _group("phone", ada, same_phone)]

    inbox = await client.get(f"/v1/customers/{same_inbox['id']}/duplicates")
    assert inbox.json() == [_group("email", ada, same_inbox)]
    assert (await client.get(f"/v1/customers/{loner['id']}/duplicates")).json() == []


async def test_duplicates_of_an_unknown_or_deleted_customer(
    client: httpx.AsyncClient, new_customer
) -> None:
    assert_problem(
        await client.get(f"/v1/customers/{MISSING}/duplicates"), 404, "customer-not-found"
    )
    gone = await new_customer(email="gone+a@example.com")
    await new_customer(email="gone+b@example.com")
    assert (await client.delete(f"/v1/customers/{gone['id']}")).status_code == 204
    assert_problem(
        await client.get(f"/v1/customers/{gone['id']}/duplicates"), 404, "customer-not-found"
    )
