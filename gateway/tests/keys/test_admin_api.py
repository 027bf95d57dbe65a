"""The admin API of keys: created once shown, stored hashed, listed, revoked."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
from sqlalchemy import text

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows


async def test_a_created_key_is_shown_once_and_works(
    admin: httpx.AsyncClient, database: Database
) -> None:
    created = await admin.post("/v1/admin/keys", json={"name": "web shop", "role": "storefront"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "storefront"
    assert body["name"] == "web shop"
    assert body["created_by"] == "bootstrap"
    assert body["revoked_at"] is None
    assert body["key"].startswith(f"crm_{body['id']}_")

    read = await admin.get(f"/v1/admin/keys/{body['id']}")
    assert read.status_code == 200
    assert "key" not in read.json()
    assert read.json() == {k: v for k, v in body.items() if k != "key"}

    # The new key works on what its role may do, and creates its own keys only if admin.
    assert_problem(
        await admin.get("/v1/admin/keys", headers={"Authorization": f"Bearer {body['key']}"}),
        403,
        "insufficient-scope",
    )


async def test_keys_are_stored_hashed(admin: httpx.AsyncClient, database: Database) -> None:
    created = (await admin.post("/v1/admin/keys", json={"name": "bo", "role": "backoffice"})).json()
    secret = created["key"].split("_", 2)[2]
    async with database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM api_keys"))).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert secret not in stored
    assert created["key"] not in stored
    assert rows[0]["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()


async def test_a_key_made_by_an_admin_key_names_its_creator(
    admin: httpx.AsyncClient, new_key: object
) -> None:
    first = (await admin.post("/v1/admin/keys", json={"name": "ops", "role": "admin"})).json()
    second = await admin.post(
        "/v1/admin/keys",
        json={"name": "shop", "role": "storefront"},
        headers={"Authorization": f"Bearer {first['key']}"},
    )
    assert second.status_code == 201
    assert second.json()["created_by"] == first["id"]


async def test_invalid_keys_are_refused_and_nothing_is_stored(
    admin: httpx.AsyncClient, database: Database
) -> None:
    for payload in (
        {"name": "x", "role": "superuser"},
        {"name": "", "role": "admin"},
        {"role": "admin"},
        {"name": "x", "role": "admin", "secret": "mine"},
    ):
        assert_problem(await admin.post("/v1/admin/keys", json=payload), 422, "validation-error")
    assert await count_rows(database, "api_keys") == 0


async def test_keys_are_listed_oldest_first_across_pages(
    admin: httpx.AsyncClient, database: Database
) -> None:
    ids = []
    for number in range(5):
        created = await admin.post(
            "/v1/admin/keys", json={"name": f"k{number}", "role": "marketing"}
        )
        ids.append(created.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await admin.get("/v1/admin/keys", params=params)).json()
        seen.extend(item["id"] for item in page["items"])
        assert all("key" not in item for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert_problem(await admin.get("/v1/admin/keys", params={"cursor": "nonsense"}), 400)


async def test_a_revoked_key_is_refused_at_once_and_stays_listed(
    admin: httpx.AsyncClient, database: Database
) -> None:
    created = (await admin.post("/v1/admin/keys", json={"name": "bo", "role": "backoffice"})).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await admin.get("/v1/customers?limit=1", headers=headers)).status_code == 200

    revoked = await admin.delete(f"/v1/admin/keys/{created['id']}")
    assert revoked.status_code == 200
    revoked_at = revoked.json()["revoked_at"]
    assert revoked_at is not None

    assert_problem(
        await admin.get("/v1/customers?limit=1", headers=headers), 401, "invalid-api-key"
    )
    again = await admin.delete(f"/v1/admin/keys/{created['id']}")
    assert again.json()["revoked_at"] == revoked_at
    listed = (await admin.get("/v1/admin/keys")).json()["items"]
    assert [item["revoked_at"] for item in listed] == [revoked_at]
    assert_problem(await admin.delete("/v1/admin/keys/000000000000"), 404, "api-key-not-found")


async def test_another_replica_refuses_a_revoked_key_within_its_cache_time(
    admin: httpx.AsyncClient, variant: object
) -> None:
    created = (await admin.post("/v1/admin/keys", json={"name": "bo", "role": "backoffice"})).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    async with variant(key_cache_seconds=1.0) as replica:  # type: ignore[operator]
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as other:
            assert (await other.get("/v1/customers?limit=1", headers=headers)).status_code == 200
            await admin.delete(f"/v1/admin/keys/{created['id']}")
            await asyncio.sleep(1.2)
            assert_problem(
                await other.get("/v1/customers?limit=1", headers=headers), 401, "invalid-api-key"
            )
