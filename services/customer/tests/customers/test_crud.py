"""Create, read, change and delete customers."""

from __future__ import annotations

import datetime as dt

import httpx

from crm_customer.database import idempotency
from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows


async def test_create_normalises_and_reads_back(client: httpx.AsyncClient) -> None:
    payload = {
        "external_ref": "shop-1",
        "email": "  Ada.Lovelace@Example.COM ",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+44 (20) 7946-0018",
        "address": {"line1": "12 St James's Square", "city": "London", "country": "gb"},
        "locale": "en_gb",
        "tags": ["VIP", "vip", "newsletter"],
        "consents": [{"channel": "email", "granted": True, "source": "checkout"}],
    }
    created = await client.post("/v1/customers", json=payload)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "ada.lovelace@example.com"
    assert body["phone"] == "+442079460018"
    assert body["address"]["country"] == "GB"
    assert body["locale"] == "en-GB"
    assert body["tags"] == ["newsletter", "vip"]
    assert body["lifecycle_stage"] == "new"
    assert body["consents"][0]["channel"] == "email"
    assert body["created_at"].endswith("Z")

    read = await client.get(f"/v1/customers/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body


async def test_email_is_unique_case_insensitively(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await client.post("/v1/customers", json={"email": "bob@example.com"})
    assert first.status_code == 201
    again = await client.post("/v1/customers", json={"email": "BOB@example.com"})
    assert_problem(again, 409, "customer-exists")
    assert await count_rows(database, "customers") == 1


async def test_external_ref_is_unique(client: httpx.AsyncClient, database: Database) -> None:
    await client.post("/v1/customers", json={"external_ref": "x-1"})
    again = await client.post("/v1/customers", json={"external_ref": "x-1", "email": "a@b.io"})
    assert_problem(again, 409, "customer-exists")
    assert await count_rows(database, "customers") == 1


async def test_a_customer_needs_an_email_or_external_ref(
    client: httpx.AsyncClient, database: Database
) -> None:
    response = await client.post("/v1/customers", json={"first_name": "Nobody"})
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "body"
    assert await count_rows(database, "customers") == 0


async def test_patch_changes_only_given_fields_and_null_clears(
    client: httpx.AsyncClient, new_customer
) -> None:
    customer = await new_customer(first_name="Ada", phone="+4930123456")
    response = await client.patch(
        f"/v1/customers/{customer['id']}", json={"last_name": "King", "phone": None}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["first_name"] == "Ada"
    assert body["last_name"] == "King"
    assert body["phone"] is None
    assert body["updated_at"] > customer["updated_at"]


async def test_patch_to_a_taken_email_is_a_conflict(
    client: httpx.AsyncClient, new_customer
) -> None:
    await new_customer(email="taken@example.com")
    other = await new_customer()
    response = await client.patch(
        f"/v1/customers/{other['id']}", json={"email": "TAKEN@example.com"}
    )
    assert_problem(response, 409, "customer-exists")
    assert (await client.get(f"/v1/customers/{other['id']}")).json()["email"] == other["email"]


async def test_empty_patch_is_refused(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    assert_problem(await client.patch(f"/v1/customers/{customer['id']}", json={}), 422)


async def test_unknown_fields_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    response = await client.post("/v1/customers", json={"email": "a@b.io", "is_admin": True})
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.is_admin"
    assert await count_rows(database, "customers") == 0


async def test_delete_is_soft_and_frees_the_email(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer(email="gone@example.com")
    assert (await client.delete(f"/v1/customers/{customer['id']}")).status_code == 204
    assert_problem(await client.get(f"/v1/customers/{customer['id']}"), 404, "customer-not-found")
    assert_problem(await client.delete(f"/v1/customers/{customer['id']}"), 404)
    again = await client.post("/v1/customers", json={"email": "gone@example.com"})
    assert again.status_code == 201


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    missing = "01900000-0000-7000-8000-000000000000"
    assert_problem(await client.get(f"/v1/customers/{missing}"), 404, "customer-not-found")
    assert_problem(await client.get("/v1/customers/not-a-uuid"), 422, "validation-error")


async def test_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, database: Database
) -> None:
    headers = {"Idempotency-Key": "create-ada-1"}
    payload = {"email": "ada@example.com"}
    first = await client.post("/v1/customers", json=payload, headers=headers)
    second = await client.post("/v1/customers", json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await count_rows(database, "customers") == 1
    other = await client.post("/v1/customers", json={"email": "eve@example.com"}, headers=headers)
    assert_problem(other, 409, "idempotency-key-reused")
    assert await count_rows(database, "customers") == 1


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/customers", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/v1/customers")
    assert len(generated.headers["x-request-id"]) == 32


async def test_calls_without_the_service_token_are_refused(app) -> None:
    from crm_shared.testing import client_for

    async with client_for(app, token="wrong") as stranger:
        assert_problem(await stranger.get("/v1/customers"), 401, "invalid-service-token")
        assert (await stranger.get("/health")).status_code == 200


async def test_idempotency_keys_are_forgotten_after_the_retention(
    client: httpx.AsyncClient, database: Database
) -> None:
    headers = {"Idempotency-Key": "old-key"}
    await client.post("/v1/customers", json={"email": "first@example.com"}, headers=headers)
    assert await idempotency.purge(database.engine, dt.timedelta(hours=1)) == 0
    assert await idempotency.purge(database.engine, dt.timedelta(seconds=0)) == 1
    again = await client.post(
        "/v1/customers", json={"email": "second@example.com"}, headers=headers
    )
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await count_rows(database, "customers") == 2
