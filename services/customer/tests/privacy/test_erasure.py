"""GDPR erasure: personal data goes for good, the pseudonymous id and the counts stay."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from crm_customer.models import metadata
from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

MISSING = "01900000-0000-7000-8000-000000000000"
REQUEST = {"reason": "GDPR art. 17 request #4711", "requested_by": "dpo@shop"}
DUMPED_TABLES = (
    "customers",
    "customer_events",
    "customer_tags",
    "tickets",
    "ticket_notes",
    "idempotency_keys",
)

# Personal data of the customer to erase: every string is distinctive, so finding it
# anywhere in the database after the erasure can only mean it was left behind.
PROFILE = {
    "external_ref": "shop-ref-zq81",
    "email": "Wilhelmina.Quastenberg@Example.org",
    "first_name": "Wilhelmina",
    "last_name": "Quastenberg",
    "phone": "+49 30 9876 5432",
    "address": {
        "line1": "Zwetschgenweg 17",
        "line2": "Hinterhaus",
        "city": "Quedlinburg",
        "postal_code": "QB 06484",
        "region": "Sachsen-Anhalt",
        "country": "DE",
    },
    "locale": "de-DE",
    "tags": ["gold-kettle-fan"],
    "consents": [{"channel": "email", "granted": True, "source": "checkout"}],
}
PII = [
    "shop-ref-zq81",
    "wilhelmina.quastenberg@example.org",
    "Wilhelmina",
    "Quastenberg",
    "+4930",
    "98765432",
    "Zwetschgenweg",
    "Hinterhaus",
    "Quedlinburg",
    "QB 06484",
    "Sachsen-Anhalt",
    "gold-kettle-fan",
    "Kettle of Wilhelmina",
    "my flat in Zwetschgenweg",
]


async def _erase(client: httpx.AsyncClient, customer_id: str, **headers: str) -> httpx.Response:
    return await client.post(f"/v1/customers/{customer_id}/erase", json=REQUEST, headers=headers)


async def _open_ticket(
    client: httpx.AsyncClient, customer_id: str, subject: str, body: str, **headers: str
) -> dict[str, Any]:
    response = await client.post(
        "/v1/tickets",
        json={"customer_id": customer_id, "kind": "complaint", "subject": subject, "body": body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def _dump(database: Database) -> str:
    """Every row of the tables that could hold personal data, as one searchable text."""
    parts = []
    async with database.engine.connect() as connection:
        for name in DUMPED_TABLES:
            for row in await connection.execute(select(metadata.tables[name])):
                for value in row:
                    if isinstance(value, bytes):
                        value = value.decode()
                    elif isinstance(value, dict | list):
                        value = orjson.dumps(value).decode()
                    parts.append(str(value))
    return "\n".join(parts).lower()


async def _customer_row(database: Database, customer_id: str) -> dict[str, Any]:
    customers = metadata.tables["customers"]
    async with database.engine.connect() as connection:
        result = await connection.execute(
            select(customers).where(customers.c.id == uuid.UUID(customer_id))
        )
        return dict(result.mappings().one())


async def _events_of(database: Database, customer_id: str) -> list[tuple[str, Any]]:
    events = metadata.tables["customer_events"]
    async with database.engine.connect() as connection:
        result = await connection.execute(
            select(events.c.kind, events.c.data).where(
                events.c.customer_id == uuid.UUID(customer_id)
            )
        )
        return [(row.kind, row.data) for row in result]


async def _feed(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/customers/export")
    lines = [orjson.loads(line) for line in response.text.splitlines() if line]
    return {line["id"]: line for line in lines}


@pytest.fixture
async def wilhelmina(client: httpx.AsyncClient, new_customer) -> dict[str, Any]:
    """A customer with personal data everywhere: profile, tickets, notes, timeline, retries."""
    referrer = await new_customer()
    response = await client.post(
        "/v1/customers",
        json={**PROFILE, "referred_by": referrer["id"], "lifecycle_stage": "active"},
        headers={"Idempotency-Key": "create-wilhelmina"},
    )
    assert response.status_code == 201, response.text
    customer = response.json()
    referred = await new_customer(referred_by=customer["id"])
    first = await _open_ticket(
        client,
        customer["id"],
        "Kettle of Wilhelmina",
        "Deliver to my flat in Zwetschgenweg 17, call +49 30 9876 5432",
        **{"Idempotency-Key": "ticket-wilhelmina"},
    )
    second = await _open_ticket(client, customer["id"], "Quastenberg order", "Late again")
    for body in ("Spoke to Wilhelmina Quastenberg", "Sent to Quedlinburg"):
        noted = await client.post(
            f"/v1/tickets/{first['id']}/notes",
            json={"body": body, "author": "Sam Support"},
            headers={"Idempotency-Key": f"note-{body[:4]}"},
        )
        assert noted.status_code == 201, noted.text
    await client.patch(f"/v1/tickets/{second['id']}", json={"status": "resolved"})
    await client.patch(
        f"/v1/customers/{customer['id']}", json={"first_name": "Wilhelmina", "locale": "de"}
    )
    return {
        "customer": customer,
        "referrer": referrer,
        "referred": referred,
        "tickets": [first, second],
    }


async def test_erasure_removes_personal_data_everywhere(
    client: httpx.AsyncClient, database: Database, new_customer, wilhelmina: dict[str, Any]
) -> None:
    bystander = await new_customer(email="bystander@example.com", first_name="Bertha")
    bystander_ticket = await _open_ticket(client, bystander["id"], "Bertha's lamp", "Flickers")
    customer = wilhelmina["customer"]
    dump_before = await _dump(database)
    assert all(value.lower() in dump_before for value in PII)  # the test can fail
    tickets_before = await count_rows(database, "tickets")
    notes_before = await count_rows(database, "ticket_notes")
    row_before = await _customer_row(database, customer["id"])

    response = await _erase(client, customer["id"])
    assert response.status_code == 200, response.text
    erasure = response.json()
    assert erasure["customer_id"] == customer["id"]
    assert (erasure["reason"], erasure["requested_by"]) == (REQUEST["reason"], "dpo@shop")

    dump_after = await _dump(database)
    left_behind = [value for value in PII if value.lower() in dump_after]
    assert left_behind == []

    row = await _customer_row(database, customer["id"])
    for column in (
        "external_ref", "email", "first_name", "last_name", "phone", "address_line1",
        "address_line2", "city", "postal_code", "region", "country", "locale",
        "email_key", "phone_key", "name_address_key",
    ):  # fmt: skip
        assert row[column] is None, column
    assert row["erased_at"] is not None
    assert row["deleted_at"] is not None
    kept = ("id", "referred_by", "lifecycle_stage", "created_at")
    assert {c: row[c] for c in kept} == {c: row_before[c] for c in kept}
    assert row["lifecycle_stage"] == "active"
    assert await _events_of(database, customer["id"]) == [("erased", {})]
    assert await count_rows(database, "tickets") == tickets_before
    assert await count_rows(database, "ticket_notes") == notes_before

    # The bystander's data is untouched.
    assert (await client.get(f"/v1/customers/{bystander['id']}")).json() == bystander
    assert (await client.get(f"/v1/tickets/{bystander_ticket['id']}")).json()["subject"] == (
        "Bertha's lamp"
    )
    assert "bystander@example.com" in dump_after


async def test_after_erasure_the_customer_is_gone_but_counts_stay(
    client: httpx.AsyncClient, database: Database, wilhelmina: dict[str, Any]
) -> None:
    customer = wilhelmina["customer"]
    first, second = wilhelmina["tickets"]
    assert (await _erase(client, customer["id"])).status_code == 200

    assert_problem(await client.get(f"/v1/customers/{customer['id']}"), 404, "customer-not-found")
    assert_problem(
        await client.get(f"/v1/customers/{customer['id']}/gdpr-export"), 410, "customer-erased"
    )
    assert_problem(await client.get(f"/v1/customers/{customer['id']}/timeline"), 404)

    ticket = (await client.get(f"/v1/tickets/{first['id']}")).json()
    assert (ticket["subject"], ticket["body"]) == ("[erased]", "[erased]")
    assert [(note["body"], note["author"]) for note in ticket["notes"]] == [
        ("[erased]", "Sam Support"),
        ("[erased]", "Sam Support"),
    ]
    assert (ticket["customer_id"], ticket["kind"]) == (customer["id"], first["kind"])
    resolved = (await client.get(f"/v1/tickets/{second['id']}")).json()
    assert resolved["status"] == "resolved"
    listed = (await client.get("/v1/tickets", params={"customer_id": customer["id"]})).json()
    assert [t["id"] for t in listed["items"]] == [first["id"], second["id"]]

    # The referral chain keeps its pseudonymous links.
    referred = (await client.get(f"/v1/customers/{wilhelmina['referred']['id']}")).json()
    assert referred["referred_by"] == customer["id"]
    assert await count_rows(database, "customers") == 3

    tag_counts = (await client.get("/v1/tags")).json()["items"]
    assert "gold-kettle-fan" not in [tag["tag"] for tag in tag_counts]


async def test_the_export_feed_reports_the_erasure(
    client: httpx.AsyncClient, wilhelmina: dict[str, Any]
) -> None:
    customer = wilhelmina["customer"]
    before = (await _feed(client))[customer["id"]]
    assert before["change"] == "upsert"
    assert (await _erase(client, customer["id"])).status_code == 200
    line = (await _feed(client))[customer["id"]]
    assert line["change"] == "erased"
    assert line["customer"] is None
    assert line["position"] > before["position"]
    # Resuming after the last position seen before the erasure yields the erasure.
    response = await client.get("/v1/customers/export", params={"cursor": before["position"]})
    resumed = [orjson.loads(text_line) for text_line in response.text.splitlines()]
    assert [(entry["id"], entry["change"]) for entry in resumed] == [(customer["id"], "erased")]


async def test_the_email_is_free_again(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer(email="again@example.com", external_ref="again-1")
    assert (await _erase(client, customer["id"])).status_code == 200
    response = await client.post(
        "/v1/customers", json={"email": "again@example.com", "external_ref": "again-1"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"] != customer["id"]


async def test_erasing_twice_is_a_conflict(
    client: httpx.AsyncClient, database: Database, new_customer
) -> None:
    customer = await new_customer()
    first = await _erase(client, customer["id"])
    problem = assert_problem(await _erase(client, customer["id"]), 409, "already-erased")
    assert customer["id"] in problem["detail"]
    assert await count_rows(database, "erasures") == 1
    record = await client.get(f"/v1/customers/{customer['id']}/erasure")
    assert record.json() == first.json()


async def test_a_retried_erasure_replays_the_first_answer(
    client: httpx.AsyncClient, database: Database, new_customer
) -> None:
    customer = await new_customer()
    first = await _erase(client, customer["id"], **{"Idempotency-Key": "erase-1"})
    again = await _erase(client, customer["id"], **{"Idempotency-Key": "erase-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_rows(database, "erasures") == 1


async def test_a_soft_deleted_customer_can_be_erased(
    client: httpx.AsyncClient, database: Database, new_customer
) -> None:
    customer = await new_customer(email="deleted-then-erased@example.com", first_name="Ottokar")
    assert (await client.delete(f"/v1/customers/{customer['id']}")).status_code == 204
    deleted_at = (await _customer_row(database, customer["id"]))["deleted_at"]
    response = await _erase(client, customer["id"])
    assert response.status_code == 200, response.text
    row = await _customer_row(database, customer["id"])
    assert row["deleted_at"] == deleted_at
    assert row["erased_at"] is not None
    dump = await _dump(database)
    assert "deleted-then-erased" not in dump
    assert "ottokar" not in dump


async def test_erasure_of_unknown_or_malformed_ids(
    client: httpx.AsyncClient, database: Database
) -> None:
    assert_problem(await _erase(client, MISSING), 404, "customer-not-found")
    assert_problem(await _erase(client, "nope"), 422, "validation-error")
    assert await count_rows(database, "erasures") == 0


@pytest.mark.parametrize(
    "request_body",
    [
        {},
        {"reason": "x"},
        {"requested_by": "dpo"},
        {"reason": "", "requested_by": "dpo"},
        {"reason": "x" * 201, "requested_by": "dpo"},
        {"reason": "two\nlines", "requested_by": "dpo"},
        {**REQUEST, "hard": True},
    ],
)
async def test_a_bad_erasure_request_erases_nothing(
    client: httpx.AsyncClient, database: Database, new_customer, request_body: dict[str, Any]
) -> None:
    customer = await new_customer()
    response = await client.post(f"/v1/customers/{customer['id']}/erase", json=request_body)
    assert_problem(response, 422, "validation-error")
    assert await count_rows(database, "erasures") == 0
    assert (await client.get(f"/v1/customers/{customer['id']}")).json() == customer


async def test_the_erasure_record(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    path = f"/v1/customers/{customer['id']}/erasure"
    assert_problem(await client.get(path), 404, "erasure-not-found")
    assert_problem(await client.get(f"/v1/customers/{MISSING}/erasure"), 404, "customer-not-found")
    assert_problem(await client.get("/v1/customers/nope/erasure"), 422, "validation-error")
    before = dt.datetime.now(dt.UTC)
    erased = (await _erase(client, customer["id"])).json()
    record = await client.get(path)
    assert record.status_code == 200
    assert record.json() == erased
    assert dt.datetime.fromisoformat(erased["erased_at"]) >= before


async def test_tickets_of_an_erased_customer_are_frozen(
    client: httpx.AsyncClient, database: Database, new_customer
) -> None:
    customer = await new_customer()
    ticket = await _open_ticket(client, customer["id"], "Hello", "World")
    assert (await _erase(client, customer["id"])).status_code == 200
    notes = await client.post(
        f"/v1/tickets/{ticket['id']}/notes", json={"body": "new text", "author": "sam"}
    )
    assert_problem(notes, 409, "ticket-erased")
    patched = await client.patch(f"/v1/tickets/{ticket['id']}", json={"subject": "Hello again"})
    assert_problem(patched, 409, "ticket-erased")
    opened = await client.post(
        "/v1/tickets",
        json={"customer_id": customer["id"], "kind": "inquiry", "subject": "a", "body": "b"},
    )
    assert_problem(opened, 422, "ticket-customer-not-found")
    assert await count_rows(database, "ticket_notes") == 0
    assert await count_rows(database, "tickets") == 1
    assert await _events_of(database, customer["id"]) == [("erased", {})]
