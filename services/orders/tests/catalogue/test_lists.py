"""Listing products: filters and keyset pages."""

from __future__ import annotations

import httpx

from crm_shared.testing import assert_problem


async def _all_pages(client: httpx.AsyncClient, **params: object) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/products", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_pages_walk_every_product_once_in_creation_order(
    client: httpx.AsyncClient, new_product
) -> None:
    created = [await new_product() for _ in range(7)]
    seen = await _all_pages(client, limit=3)
    assert [p["id"] for p in seen] == [p["id"] for p in created]
    first = (await client.get("/v1/products", params={"limit": 7})).json()
    assert len(first["items"]) == 7
    assert first["next_cursor"] is None


async def test_filters_combine(client: httpx.AsyncClient, new_product) -> None:
    await new_product(name="Chef Knife", category_path="home/kitchen/knives", brand="Acme")
    await new_product(name="Paring knife", category_path="Home/Kitchen", brand="Other")
    await new_product(name="Sofa", category_path="home/living", in_stock=False)
    await new_product(name="Homeware gift", category_path="homeware", brand="Acme")
    await new_product(name="100% cotton_towel", category_path="home", active=False)

    async def names(**params: object) -> set[str]:
        response = await client.get("/v1/products", params=params)
        assert response.status_code == 200, response.text
        return {p["name"] for p in response.json()["items"]}

    home = {"Chef Knife", "Paring knife", "Sofa", "100% cotton_towel"}
    assert await names(category="home") == home
    assert await names(category=" HOME / kitchen ") == {"Chef Knife", "Paring knife"}
    assert await names(category="home/kitchen/knives") == {"Chef Knife"}
    assert await names(category="home/kit") == set()
    assert await names(brand="Acme") == {"Chef Knife", "Homeware gift"}
    assert await names(q="KNIFE") == {"Chef Knife", "Paring knife"}
    assert await names(q="%") == {"100% cotton_towel"}
    assert await names(q="f_k") == set()
    assert await names(q="n_t") == {"100% cotton_towel"}
    assert await names(active="false") == {"100% cotton_towel"}
    assert await names(in_stock="false") == {"Sofa"}
    assert await names(category="home", brand="Acme", q="chef") == {"Chef Knife"}
    assert await names(category="home", active="true", in_stock="true") == {
        "Chef Knife",
        "Paring knife",
    }


async def test_bad_list_parameters(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/products", params={"cursor": "nope"}), 400)
    assert_problem(await client.get("/v1/products", params={"limit": 0}), 422)
    assert_problem(await client.get("/v1/products", params={"category": "//"}), 422)
