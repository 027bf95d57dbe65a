"""Listing customers: filters, keyset pages, tags in use."""

from __future__ import annotations

import datetime as dt

import httpx

from crm_shared.testing import assert_problem


async def _all_pages(client: httpx.AsyncClient, path: str, **params: object) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(path, params=query)).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_pages_walk_every_customer_once_in_creation_order(
    client: httpx.AsyncClient, new_customer
) -> None:
    created = [await new_customer() for _ in range(7)]
    seen = await _all_pages(client, "/v1/customers", limit=3)
    assert [c["id"] for c in seen] == [c["id"] for c in created]
    first = (await client.get("/v1/customers", params={"limit": 3})).json()
    assert len(first["items"]) == 3
    assert first["next_cursor"]


async def test_a_new_customer_does_not_shift_pages_already_read(
    client: httpx.AsyncClient, new_customer
) -> None:
    for _ in range(4):
        await new_customer()
    first = (await client.get("/v1/customers", params={"limit": 2})).json()
    late = await new_customer()
    rest = await _all_pages(client, "/v1/customers", limit=2, cursor=first["next_cursor"])
    ids = [c["id"] for c in first["items"]] + [c["id"] for c in rest]
    assert len(ids) == len(set(ids)) == 5
    assert ids[-1] == late["id"]


async def test_filters_combine(client: httpx.AsyncClient, new_customer) -> None:
    ada = await new_customer(
        first_name="Ada", last_name="Lovelace", address={"country": "GB"}, tags=["vip"]
    )
    await new_customer(first_name="Adam", last_name="Smith", address={"country": "US"})
    await new_customer(first_name="Grace", last_name="Hopper", address={"country": "GB"})
    await new_customer(first_name="Alan", lifecycle_stage="churned", tags=["vip"])

    async def ids(**params: object) -> set[str]:
        response = await client.get("/v1/customers", params=params)
        assert response.status_code == 200, response.text
        return {c["first_name"] for c in response.json()["items"]}

    assert await ids(name="ad") == {"Ada", "Adam"}
    assert await ids(name="ADA LOVE") == {"Ada"}
    assert await ids(name="hop") == {"Grace"}
    assert await ids(country="gb") == {"Ada", "Grace"}
    assert await ids(country="GB", name="ada") == {"Ada"}
    assert await ids(tag="VIP") == {"Ada", "Alan"}
    assert await ids(lifecycle_stage="churned") == {"Alan"}
    assert await ids(email=ada["email"].upper()) == {"Ada"}
    assert await ids(name="%") == set()
    assert await ids(name="_da") == set()


async def test_created_range_is_inclusive_exclusive(
    client: httpx.AsyncClient, new_customer
) -> None:
    first = await new_customer()
    second = await new_customer()
    at = second["created_at"]
    after = await client.get("/v1/customers", params={"created_after": at})
    assert [c["id"] for c in after.json()["items"]] == [second["id"]]
    before = await client.get("/v1/customers", params={"created_before": at})
    assert [c["id"] for c in before.json()["items"]] == [first["id"]]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert (await client.get("/v1/customers", params={"created_after": future})).json()[
        "items"
    ] == []


async def test_deleted_customers_are_not_listed(client: httpx.AsyncClient, new_customer) -> None:
    keep = await new_customer()
    gone = await new_customer()
    await client.delete(f"/v1/customers/{gone['id']}")
    assert [c["id"] for c in await _all_pages(client, "/v1/customers")] == [keep["id"]]


async def test_bad_list_parameters_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/customers", params={"limit": 0}), 422)
    assert_problem(await client.get("/v1/customers", params={"limit": 501}), 422)
    assert_problem(await client.get("/v1/customers", params={"country": "XX"}), 422)
    assert_problem(await client.get("/v1/customers", params={"lifecycle_stage": "vip"}), 422)
    naive = await client.get("/v1/customers", params={"created_after": "2024-01-01T00:00:00"})
    assert_problem(naive, 422)
    assert_problem(
        await client.get("/v1/customers", params={"cursor": "!!"}), 400, "invalid-cursor"
    )
    not_an_id = "WyJ4Il0"  # ["x"]
    assert_problem(
        await client.get("/v1/customers", params={"cursor": not_an_id}), 400, "invalid-cursor"
    )
    wrong_shape = "WzEsMl0"  # a valid cursor encoding of [1, 2], which no customer list makes
    assert_problem(
        await client.get("/v1/customers", params={"cursor": wrong_shape}), 400, "invalid-cursor"
    )


async def test_tags_in_use_with_counts(client: httpx.AsyncClient, new_customer) -> None:
    await new_customer(tags=["vip", "newsletter"])
    await new_customer(tags=["vip"])
    gone = await new_customer(tags=["vip", "b2b"])
    await client.delete(f"/v1/customers/{gone['id']}")
    counts = await _all_pages(client, "/v1/tags", limit=1)
    assert counts == [{"tag": "newsletter", "customers": 1}, {"tag": "vip", "customers": 2}]


async def test_ids_filter_answers_which_live_customers_exist(
    client: httpx.AsyncClient, new_customer
) -> None:
    kept, deleted, other = await new_customer(), await new_customer(), await new_customer()
    await client.delete(f"/v1/customers/{deleted['id']}")
    stranger = "01900000-0000-7000-8000-000000000000"
    response = await client.get(
        "/v1/customers", params=[("id", kept["id"]), ("id", deleted["id"]), ("id", stranger)]
    )
    assert [c["id"] for c in response.json()["items"]] == [kept["id"]]
    assert other["id"] not in response.text
    too_many = [("id", stranger)] * 201
    assert_problem(await client.get("/v1/customers", params=too_many), 422, "validation-error")


async def test_existing_answers_the_ids_of_live_customers_only(
    client: httpx.AsyncClient, new_customer
) -> None:
    kept, deleted, other, last = [await new_customer() for _ in range(4)]
    await client.delete(f"/v1/customers/{deleted['id']}")
    stranger = "01900000-0000-7000-8000-000000000000"
    asked = [last["id"], deleted["id"], stranger, kept["id"], last["id"]]
    response = await client.post("/v1/customers/existing", json={"ids": asked})
    assert response.status_code == 200, response.text
    assert response.json() == {"ids": [last["id"], kept["id"]]}  # as asked, each once
    assert other["id"] not in response.text
    empty = await client.post("/v1/customers/existing", json={"ids": []})
    assert empty.json() == {"ids": []}


async def test_existing_refuses_too_many_or_malformed_ids(client: httpx.AsyncClient) -> None:
    stranger = "01900000-0000-7000-8000-000000000000"
    too_many = {"ids": [stranger] * 1001}
    assert_problem(
        await client.post("/v1/customers/existing", json=too_many), 422, "validation-error"
    )
    malformed = {"ids": ["not-a-uuid"]}
    assert_problem(
        await client.post("/v1/customers/existing", json=malformed), 422, "validation-error"
    )
    extra = {"ids": [], "email": "x@example.com"}
    assert_problem(await client.post("/v1/customers/existing", json=extra), 422, "validation-error")
