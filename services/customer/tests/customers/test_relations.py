"""Tags, consent, referrals, timeline and lifecycle of a customer."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows


async def _timeline_kinds(client: httpx.AsyncClient, customer_id: str) -> list[str]:
    page = (await client.get(f"/v1/customers/{customer_id}/timeline")).json()
    return [event["kind"] for event in page["items"]]


async def test_tags_add_and_remove(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer(tags=["b2b"])
    added = await client.post(f"/v1/customers/{customer['id']}/tags", json={"tags": ["VIP", "b2b"]})
    assert added.status_code == 200, added.text
    assert added.json()["tags"] == ["b2b", "vip"]
    removed = await client.delete(f"/v1/customers/{customer['id']}/tags/b2b")
    assert removed.json()["tags"] == ["vip"]
    again = await client.delete(f"/v1/customers/{customer['id']}/tags/b2b")
    assert again.status_code == 200
    assert again.json()["tags"] == ["vip"]
    listed = await client.get("/v1/customers", params={"tag": "b2b"})
    assert listed.json()["items"] == []
    assert await _timeline_kinds(client, customer["id"]) == ["created", "tagged", "untagged"]


async def test_bad_tags_are_refused(
    client: httpx.AsyncClient, new_customer, database: Database
) -> None:
    customer = await new_customer()
    for tags in ([], ["-leading-dash"], ["x" * 65], ["semi;colon"], [3]):
        response = await client.post(f"/v1/customers/{customer['id']}/tags", json={"tags": tags})
        assert_problem(response, 422, "validation-error")
    assert await count_rows(database, "customer_tags") == 0


async def test_consent_latest_statement_wins(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    path = f"/v1/customers/{customer['id']}/consents/email"
    now = dt.datetime.now(dt.UTC)
    given = await client.put(
        path, json={"granted": True, "source": "checkout", "recorded_at": now.isoformat()}
    )
    assert given.status_code == 200, given.text
    stale = (now - dt.timedelta(days=3)).isoformat()
    older = await client.put(
        path, json={"granted": False, "source": "import", "recorded_at": stale}
    )
    assert older.json()["consents"] == given.json()["consents"]
    withdrawn = await client.put(path, json={"granted": False, "source": "unsubscribe-link"})
    consent = withdrawn.json()["consents"][0]
    assert (consent["channel"], consent["granted"], consent["source"]) == (
        "email",
        False,
        "unsubscribe-link",
    )
    kinds = await _timeline_kinds(client, customer["id"])
    assert kinds == ["created", "consent_changed", "consent_changed"]


async def test_consent_input_is_checked(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    base = f"/v1/customers/{customer['id']}/consents"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert_problem(await client.put(f"{base}/pigeon", json={"granted": True, "source": "x"}), 422)
    assert_problem(await client.put(f"{base}/sms", json={"granted": "maybe", "source": "x"}), 422)
    assert_problem(
        await client.put(
            f"{base}/sms", json={"granted": True, "source": "x", "recorded_at": future}
        ),
        422,
    )
    assert (await client.get(f"/v1/customers/{customer['id']}")).json()["consents"] == []


async def test_referrals_and_their_rules(client: httpx.AsyncClient, new_customer) -> None:
    ann = await new_customer(first_name="Ann")
    bob = await new_customer(first_name="Bob", referred_by=ann["id"])
    cid = await new_customer(first_name="Cid", referred_by=bob["id"])
    referred = (await client.get(f"/v1/customers/{ann['id']}/referrals")).json()
    assert [c["id"] for c in referred["items"]] == [bob["id"]]

    self_ref = await client.patch(f"/v1/customers/{ann['id']}", json={"referred_by": ann["id"]})
    assert_problem(self_ref, 422, "self-referral")
    cycle = await client.patch(f"/v1/customers/{ann['id']}", json={"referred_by": cid["id"]})
    assert_problem(cycle, 409, "referral-cycle")
    unknown = "01900000-0000-7000-8000-000000000000"
    missing = await client.post("/v1/customers", json={"email": "z@z.io", "referred_by": unknown})
    assert_problem(missing, 422, "referrer-not-found")
    assert (await client.get(f"/v1/customers/{ann['id']}")).json()["referred_by"] is None
    assert "referred" in await _timeline_kinds(client, ann["id"])


async def test_lifecycle_stage_is_settable(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    path = f"/v1/customers/{customer['id']}"
    assert (await client.patch(path, json={"lifecycle_stage": "at_risk"})).json()[
        "lifecycle_stage"
    ] == "at_risk"
    assert_problem(await client.patch(path, json={"lifecycle_stage": "gold"}), 422)
    assert_problem(await client.patch(path, json={"lifecycle_stage": None}), 422)


async def test_timeline_is_ordered_and_paged(client: httpx.AsyncClient, new_customer) -> None:
    customer = await new_customer()
    path = f"/v1/customers/{customer['id']}"
    for name in ("A", "B", "C"):
        await client.patch(path, json={"first_name": name})
    await client.patch(path, json={"first_name": "C"})  # no change, no event
    first = (await client.get(f"{path}/timeline", params={"limit": 2})).json()
    rest = (
        await client.get(f"{path}/timeline", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    events = first["items"] + rest["items"]
    assert [e["kind"] for e in events] == ["created", "updated", "updated", "updated"]
    assert events[1]["data"] == {"fields": ["first_name"]}
    stamps = [e["at"] for e in events]
    assert stamps == sorted(stamps)
    assert rest["next_cursor"] is None
    assert_problem(
        await client.get("/v1/customers/01900000-0000-7000-8000-000000000000/timeline"), 404
    )


async def test_export_feed_follows_changes(client: httpx.AsyncClient, new_customer) -> None:
    ann = await new_customer(first_name="Ann")
    bob = await new_customer(first_name="Bob")
    feed = await _export(client, 0)
    assert [(line["id"], line["change"]) for line in feed] == [
        (ann["id"], "upsert"),
        (bob["id"], "upsert"),
    ]
    cursor = feed[-1]["position"]
    assert await _export(client, cursor) == []

    await client.patch(f"/v1/customers/{ann['id']}", json={"first_name": "Anne"})
    await client.delete(f"/v1/customers/{bob['id']}")
    changes = await _export(client, cursor)
    assert [(line["id"], line["change"]) for line in changes] == [
        (ann["id"], "upsert"),
        (bob["id"], "deleted"),
    ]
    assert changes[0]["customer"]["first_name"] == "Anne"
    positions = [line["position"] for line in changes]
    assert positions == sorted(positions)
    assert positions[0] > cursor
    # Each customer appears once, at its latest change.
    assert [line["id"] for line in await _export(client, 0)] == [ann["id"], bob["id"]]
    limited = await _export(client, 0, limit=1)
    assert [line["id"] for line in limited] == [ann["id"]]


async def _export(client: httpx.AsyncClient, cursor: int, **params: object) -> list[dict]:
    response = await client.get("/v1/customers/export", params={"cursor": cursor, **params})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]
