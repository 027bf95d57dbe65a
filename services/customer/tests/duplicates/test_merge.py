"""Merging a duplicate customer into a survivor, for real and as a dry run."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm_customer.customers.models import CustomerEvent
from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

events = CustomerEvent.__table__  # type: ignore[attr-defined]

MISSING = "01900000-0000-7000-8000-000000000000"


async def _merge(
    client: httpx.AsyncClient, survivor: dict[str, Any], duplicate: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/customers/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"], **body}
    )


async def _merged(
    client: httpx.AsyncClient, survivor: dict[str, Any], duplicate: dict[str, Any]
) -> dict[str, Any]:
    response = await _merge(client, survivor, duplicate)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["dry_run"] is False
    return result


async def _read(client: httpx.AsyncClient, customer: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/v1/customers/{customer['id']}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _events(database: Database, customer: dict[str, Any], kind: str) -> list[Any]:
    """The data of a customer's timeline events of one kind, read from the table (the
    timeline API answers 404 for a merged customer)."""
    statement = select(events.c.data).where(
        events.c.customer_id == uuid.UUID(customer["id"]), events.c.kind == kind
    )
    async with database.engine.connect() as connection:
        return list((await connection.execute(statement.order_by(events.c.id))).scalars())


def _consent(channel: str, granted: bool, source: str, recorded_at: str) -> dict[str, Any]:
    return {"channel": channel, "granted": granted, "source": source, "recorded_at": recorded_at}


async def test_the_survivor_keeps_its_values_and_fills_gaps_from_the_duplicate(
    client: httpx.AsyncClient, new_customer
) -> None:
    survivor = await new_customer(
        email="ada@example.com",
        first_name="Ada",
        lifecycle_stage="active",
        tags=["vip", "newsletter"],
        consents=[_consent("email", True, "checkout", "2024-01-01T10:00:00Z")],
    )
    duplicate = await new_customer(
        email="ada.lovelace@example.com",
        external_ref="shop-77",
        first_name="Adelheid",
        last_name="Lovelace",
        phone="+44 20 7946 0018",
        address={"line1": "12 St James's Square", "city": "London", "country": "GB"},
        locale="en-GB",
        lifecycle_stage="churned",
        tags=["newsletter", "b2b"],
        consents=[
            _consent("email", False, "unsubscribe-link", "2024-06-01T08:30:00Z"),
            _consent("sms", True, "app", "2023-03-01T00:00:00Z"),
        ],
    )

    result = await _merged(client, survivor, duplicate)
    merged = result["survivor"]
    assert result["merged_id"] == duplicate["id"]
    assert result["added_tags"] == ["b2b"]
    assert (result["moved_tickets"], result["moved_referrals"]) == (0, 0)
    assert merged["id"] == survivor["id"]
    # Its own values stay, whatever the duplicate says.
    assert merged["email"] == "ada@example.com"
    assert merged["first_name"] == "Ada"
    assert merged["lifecycle_stage"] == "active"
    # Gaps are filled from the duplicate.
    assert merged["external_ref"] == "shop-77"
    assert merged["last_name"] == "Lovelace"
    assert merged["phone"] == "+442079460018"
    assert merged["locale"] == "en-GB"
    assert merged["address"] == duplicate["address"]
    assert merged["tags"] == ["b2b", "newsletter", "vip"]
    # Per channel the most recent statement wins: the later unsubscribe beats the opt-in.
    consents = {consent["channel"]: consent for consent in merged["consents"]}
    assert consents["email"]["granted"] is False
    assert consents["email"]["source"] == "unsubscribe-link"
    assert consents["sms"]["granted"] is True
    assert merged["updated_at"] > survivor["updated_at"]

    assert await _read(client, survivor) == merged
    assert_problem(await client.get(f"/v1/customers/{duplicate['id']}"), 404, "customer-not-found")
    # The tag index follows: b2b is now carried by the survivor alone.
    tagged = (await client.get("/v1/customers", params={"tag": "b2b"})).json()["items"]
    assert [customer["id"] for customer in tagged] == [survivor["id"]]
    counts = {
        row["tag"]: row["customers"] for row in (await client.get("/v1/tags")).json()["items"]
    }
    assert counts == {"b2b": 1, "newsletter": 1, "vip": 1}
    # The survivor now holds the external_ref: nobody else can take it.
    taken = await client.post("/v1/customers", json={"external_ref": "shop-77"})
    assert_problem(taken, 409, "customer-exists")
    # The duplicate's email was not taken and is free again.
    again = await client.post("/v1/customers", json={"email": "ada.lovelace@example.com"})
    assert again.status_code == 201, again.text


async def test_an_older_consent_of_the_duplicate_does_not_win(
    client: httpx.AsyncClient, new_customer
) -> None:
    survivor = await new_customer(
        consents=[_consent("email", False, "preferences", "2024-05-01T00:00:00Z")]
    )
    duplicate = await new_customer(
        consents=[_consent("email", True, "checkout", "2024-04-30T23:59:59Z")]
    )
    merged = (await _merged(client, survivor, duplicate))["survivor"]
    assert merged["consents"] == survivor["consents"]


async def test_the_address_is_taken_whole_or_not_at_all(
    client: httpx.AsyncClient, new_customer
) -> None:
    partial = await new_customer(address={"city": "Paris"})
    full = {"line1": "5 Rue de Rivoli", "postal_code": "75001", "city": "Paris", "country": "FR"}
    merged = (await _merged(client, partial, await new_customer(address=full)))["survivor"]
    # Half of two addresses is no address: the survivor's own one stays as it was.
    assert merged["address"] == partial["address"]

    homeless = await new_customer()
    merged = (await _merged(client, homeless, await new_customer(address=full)))["survivor"]
    assert merged["address"] == {**full, "line2": None, "region": None}


@pytest.mark.parametrize("survivor_is_older", [True, False])
async def test_the_survivor_can_take_the_duplicates_email(
    client: httpx.AsyncClient, new_customer, export_feed, survivor_is_older: bool
) -> None:
    # Both orders of ids: the duplicate must give the email up before the survivor takes it,
    # whichever row the database would write first.
    if survivor_is_older:
        survivor = await new_customer(email=None, external_ref="ref-1")
        duplicate = await new_customer(email="grace@example.com", external_ref="ref-2")
    else:
        duplicate = await new_customer(email="grace@example.com", external_ref="ref-2")
        survivor = await new_customer(email=None, external_ref="ref-1")

    merged = (await _merged(client, survivor, duplicate))["survivor"]
    assert merged["email"] == "grace@example.com"
    assert merged["external_ref"] == "ref-1"
    lines = {line["id"]: line for line in await export_feed()}
    # The duplicate's row gave up the email it handed over and kept what it did not.
    assert lines[duplicate["id"]]["customer"]["email"] is None
    assert lines[duplicate["id"]]["customer"]["external_ref"] == "ref-2"
    found = (await client.get("/v1/customers", params={"email": "grace@example.com"})).json()
    assert [customer["id"] for customer in found["items"]] == [survivor["id"]]


async def test_tickets_and_referrals_move_to_the_survivor(
    client: httpx.AsyncClient, database: Database, new_customer, new_ticket, ticket_owners
) -> None:
    referrer = await new_customer()
    survivor = await new_customer()
    duplicate = await new_customer(referred_by=referrer["id"])
    friends = [await new_customer(referred_by=duplicate["id"]) for _ in range(2)]
    tickets = [await new_ticket(duplicate["id"]) for _ in range(3)]
    own_ticket = await new_ticket(survivor["id"])

    result = await _merged(client, survivor, duplicate)
    assert result["moved_tickets"] == 3
    assert result["moved_referrals"] == 2
    # A survivor without a referrer takes the duplicate's.
    assert result["survivor"]["referred_by"] == referrer["id"]

    owners = await ticket_owners()
    assert {owners[ticket] for ticket in [*tickets, own_ticket]} == {survivor["id"]}
    for friend in friends:
        assert (await _read(client, friend))["referred_by"] == survivor["id"]
    referrals = await client.get(f"/v1/customers/{survivor['id']}/referrals")
    assert [c["id"] for c in referrals.json()["items"]] == [f["id"] for f in friends]

    assert await _events(database, survivor, "merged") == [
        {
            "merged_id": duplicate["id"],
            "moved_tickets": 3,
            "moved_referrals": 2,
            "fields": ["referred_by"],
        }
    ]
    assert await _events(database, duplicate, "merged_into") == [{"survivor_id": survivor["id"]}]
    assert {"customer_id": survivor["id"]} in await _events(database, referrer, "referred")


async def test_the_export_feed_carries_both_customers_and_the_moved_referrals(
    client: httpx.AsyncClient, new_customer, export_feed
) -> None:
    survivor = await new_customer()
    duplicate = await new_customer()
    friend = await new_customer(referred_by=duplicate["id"])
    bystander = await new_customer()
    before = max(line["position"] for line in await export_feed())

    await _merged(client, survivor, duplicate)

    changes = {line["id"]: line for line in await export_feed(before)}
    assert set(changes) == {survivor["id"], duplicate["id"], friend["id"]}
    assert bystander["id"] not in changes
    merged = changes[duplicate["id"]]
    assert merged["change"] == "merged"
    assert merged["merged_into"] == survivor["id"]
    assert changes[survivor["id"]]["change"] == "upsert"
    assert changes[friend["id"]]["change"] == "upsert"
    assert changes[friend["id"]]["customer"]["referred_by"] == survivor["id"]
    positions = [line["position"] for line in changes.values()]
    assert len(set(positions)) == 3
    assert min(positions) > before


async def test_a_survivor_referred_by_the_duplicate_never_refers_itself(
    client: httpx.AsyncClient, new_customer
) -> None:
    original = await new_customer()
    duplicate = await new_customer(referred_by=original["id"])
    survivor = await new_customer(referred_by=duplicate["id"])

    result = await _merged(client, survivor, duplicate)
    assert result["moved_referrals"] == 0
    # The referral by "itself" is dropped and the duplicate's own referrer is taken.
    assert result["survivor"]["referred_by"] == original["id"]


async def test_the_duplicates_referrer_is_not_taken_when_it_is_the_survivor(
    client: httpx.AsyncClient, new_customer
) -> None:
    survivor = await new_customer()
    duplicate = await new_customer(referred_by=survivor["id"])
    merged = (await _merged(client, survivor, duplicate))["survivor"]
    assert merged["referred_by"] is None


async def test_the_duplicates_referrer_is_not_taken_when_it_closes_a_cycle(
    client: httpx.AsyncClient, new_customer
) -> None:
    survivor = await new_customer()
    friend = await new_customer(referred_by=survivor["id"])
    duplicate = await new_customer(referred_by=friend["id"])
    merged = (await _merged(client, survivor, duplicate))["survivor"]
    assert merged["referred_by"] is None
    assert (await _read(client, friend))["referred_by"] == survivor["id"]


async def test_a_referral_that_would_close_a_cycle_stays_with_the_duplicate(
    client: httpx.AsyncClient, new_customer
) -> None:
    # duplicate referred middle, middle referred survivor: moving middle under the
    # survivor would make the survivor and middle refer each other.
    duplicate = await new_customer()
    middle = await new_customer(referred_by=duplicate["id"])
    survivor = await new_customer(referred_by=middle["id"])
    other = await new_customer(referred_by=duplicate["id"])

    result = await _merged(client, survivor, duplicate)
    assert result["moved_referrals"] == 1
    assert result["survivor"]["referred_by"] == middle["id"]
    assert (await _read(client, middle))["referred_by"] == duplicate["id"]
    assert (await _read(client, other))["referred_by"] == survivor["id"]


async def test_a_merged_customer_no_longer_shows_as_a_duplicate(
    client: httpx.AsyncClient, new_customer
) -> None:
    survivor = await new_customer(email="lin+shop@example.com")
    duplicate = await new_customer(email="lin@example.com")
    before = (await client.get(f"/v1/customers/{survivor['id']}/duplicates")).json()
    assert [group["customer_ids"] for group in before] == [[survivor["id"], duplicate["id"]]]
    await _merged(client, survivor, duplicate)
    assert (await client.get("/v1/customers/duplicates")).json()["items"] == []


async def test_a_dry_run_answers_like_the_merge_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, new_customer, new_ticket, snapshot
) -> None:
    referrer = await new_customer()
    survivor = await new_customer(
        tags=["vip"], consents=[_consent("sms", True, "app", "2024-01-01T00:00:00Z")]
    )
    duplicate = await new_customer(
        email=None,
        external_ref="dup-1",
        first_name="Grace",
        phone="+1 212 555 0100",
        referred_by=referrer["id"],
        tags=["b2b"],
        consents=[_consent("sms", False, "support", "2024-02-01T00:00:00Z")],
    )
    await new_customer(referred_by=duplicate["id"])
    await new_ticket(duplicate["id"])
    state = await snapshot()

    dry = await client.post(
        f"/v1/customers/{survivor['id']}/merge",
        json={"duplicate_id": duplicate["id"], "dry_run": True},
        headers={"Idempotency-Key": "dry-1"},
    )
    assert dry.status_code == 200, dry.text
    preview = dry.json()
    assert preview["dry_run"] is True
    assert preview["survivor"]["external_ref"] == "dup-1"
    assert preview["survivor"]["tags"] == ["b2b", "vip"]
    assert (preview["moved_tickets"], preview["moved_referrals"]) == (1, 1)

    assert await snapshot() == state
    assert await _read(client, survivor) == survivor
    assert (await _read(client, duplicate))["id"] == duplicate["id"]

    real = await _merged(client, survivor, duplicate)
    assert real["survivor"]["updated_at"] >= preview["survivor"]["updated_at"]
    for result in (real, preview):
        result.pop("dry_run")
        result["survivor"].pop("updated_at")
    assert real == preview
    assert await count_rows(database, "idempotency_keys") == 0


async def test_an_idempotent_retry_replays_the_merge(
    client: httpx.AsyncClient, database: Database, new_customer
) -> None:
    survivor = await new_customer()
    duplicate = await new_customer(tags=["b2b"])
    headers = {"Idempotency-Key": "merge-1"}
    body = {"duplicate_id": duplicate["id"]}
    url = f"/v1/customers/{survivor['id']}/merge"
    first = await client.post(url, json=body, headers=headers)
    second = await client.post(url, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await _events(database, survivor, "merged")) == 1
    # Without the key, the retry is told the truth.
    assert_problem(await client.post(url, json=body), 409, "already-merged")


async def test_merging_a_customer_into_itself(
    client: httpx.AsyncClient, new_customer, snapshot
) -> None:
    customer = await new_customer()
    state = await snapshot()
    response = await _merge(client, customer, customer)
    assert_problem(response, 422, "merge-into-self")
    assert await snapshot() == state


async def test_unknown_or_deleted_customers(
    client: httpx.AsyncClient, new_customer, snapshot
) -> None:
    survivor = await new_customer()
    duplicate = await new_customer()
    deleted = await new_customer()
    assert (await client.delete(f"/v1/customers/{deleted['id']}")).status_code == 204
    missing = {"id": MISSING}
    state = await snapshot()

    assert_problem(await _merge(client, missing, duplicate), 404, "customer-not-found")
    assert_problem(await _merge(client, deleted, duplicate), 404, "customer-not-found")
    problem = assert_problem(await _merge(client, survivor, missing), 422, "duplicate-not-found")
    assert problem["duplicate_id"] == MISSING
    assert_problem(await _merge(client, survivor, deleted), 422, "duplicate-not-found")
    assert await snapshot() == state


async def test_merging_an_already_merged_customer(
    client: httpx.AsyncClient, new_customer, snapshot
) -> None:
    survivor = await new_customer()
    duplicate = await new_customer()
    other = await new_customer()
    await _merged(client, survivor, duplicate)
    state = await snapshot()

    for target in (survivor, other):
        problem = assert_problem(await _merge(client, target, duplicate), 409, "already-merged")
        assert problem["merged_into"] == survivor["id"]
    # Into a merged customer: it is gone, and the answer says where it went.
    problem = assert_problem(await _merge(client, duplicate, other), 404, "customer-not-found")
    assert problem["merged_into"] == survivor["id"]
    assert await snapshot() == state


async def test_malformed_merge_requests(client: httpx.AsyncClient, new_customer, snapshot) -> None:
    survivor = await new_customer()
    duplicate = await new_customer()
    state = await snapshot()
    url = f"/v1/customers/{survivor['id']}/merge"
    for body in (
        {},
        {"duplicate_id": "not-a-uuid"},
        {"duplicate_id": duplicate["id"], "dry_run": "perhaps"},
        {"duplicate_id": duplicate["id"], "keep": "mine"},
    ):
        assert_problem(await client.post(url, json=body), 422, "validation-error")
    bad_path = await client.post("/v1/customers/nope/merge", json={"duplicate_id": duplicate["id"]})
    assert_problem(bad_path, 422, "validation-error")
    assert await snapshot() == state
