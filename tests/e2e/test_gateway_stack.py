"""The gateway and the customer service as real processes: a back-office day through the
one public entry, with keys, scopes, streaming bodies and request ids end to end."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_shared.testing import ServiceProcess, assert_problem, service_process, sqlite_url

pytestmark = pytest.mark.e2e
BOOTSTRAP_KEY = "e2e-bootstrap-admin-key-0123456789abcdef"
IMPORTED = 500


@pytest.fixture
def stack(customer_database_url: str, tmp_path: Path) -> Iterator[tuple[str, ServiceProcess]]:
    """The gateway's URL, and the customer service process behind it."""
    with (
        service_process(
            "crm_customer", "CUSTOMER_", database_url=customer_database_url, log_dir=tmp_path
        ) as customer,
        service_process(
            "crm_gateway",
            "GATEWAY_",
            database_url=sqlite_url(tmp_path, "gateway"),
            log_dir=tmp_path,
            extra_env={
                "GATEWAY_CUSTOMER_URL": customer.url,
                "GATEWAY_ORDERS_URL": "",
                "GATEWAY_ANALYTICS_URL": "",
                "GATEWAY_RECOMMEND_URL": "",
                "GATEWAY_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
            },
        ) as gateway,
    ):
        yield gateway.url, customer


def _key(gateway: str, role: str) -> str:
    created = httpx.post(
        f"{gateway}/v1/admin/keys",
        json={"name": f"e2e {role}", "role": role},
        headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"},
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def test_a_back_office_day_through_the_gateway(stack: tuple[str, ServiceProcess]) -> None:
    gateway, customer_service = stack
    backoffice = _key(gateway, "backoffice")
    storefront = _key(gateway, "storefront")
    with httpx.Client(
        base_url=gateway, headers={"Authorization": f"Bearer {backoffice}"}, timeout=60
    ) as http:
        created = http.post(
            "/v1/customers",
            json={"email": "grace@example.com", "first_name": "Grace"},
            headers={"Idempotency-Key": "e2e-create-grace", "X-Request-ID": "e2e-gw-1"},
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "e2e-gw-1"
        assert int(created.headers["ratelimit-remaining"]) >= 0
        customer = created.json()
        again = http.post(
            "/v1/customers",
            json={"email": "grace@example.com", "first_name": "Grace"},
            headers={"Idempotency-Key": "e2e-create-grace"},
        )
        assert again.json()["id"] == customer["id"]

        tagged = http.post(f"/v1/customers/{customer['id']}/tags", json={"tags": ["vip"]})
        assert tagged.json()["tags"] == ["vip"]
        consent = http.put(
            f"/v1/customers/{customer['id']}/consents/email",
            json={"granted": True, "source": "checkout"},
        )
        assert consent.status_code == 200, consent.text
        ticket = http.post(
            "/v1/tickets",
            json={
                "customer_id": customer["id"],
                "kind": "complaint",
                "subject": "Broken teapot",
                "body": "It arrived in pieces.",
            },
        ).json()
        note = http.post(
            f"/v1/tickets/{ticket['id']}/notes", json={"body": "Refund sent.", "author": "Kim"}
        )
        assert note.status_code == 201

        # A bulk import streams through the gateway, and so does the export feed.
        rows = "".join(f"shop-{n},customer{n}@example.com,Name{n}\n" for n in range(IMPORTED))

        def csv() -> Iterator[bytes]:
            yield b"external_ref,email,first_name\n"
            yield rows.encode()

        imported = http.post(
            "/v1/customers/import", content=csv(), headers={"content-type": "text/csv"}
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["inserted"] == IMPORTED
        with http.stream("GET", "/v1/customers/export") as export:
            assert export.headers["content-type"].startswith("application/x-ndjson")
            changes = [json.loads(line) for line in export.iter_lines() if line]
        assert {change["id"] for change in changes} >= {customer["id"]}
        assert len({change["id"] for change in changes}) == IMPORTED + 1

        view = http.get(f"/v1/customers/{customer['id']}/360").json()
        assert view["customer"]["tags"] == ["vip"]
        assert [t["id"] for t in view["open_tickets"]] == [ticket["id"]]
        assert view["partial"] is True
        assert {part["part"] for part in view["unavailable"]} == {
            "order_summary",
            "scores",
            "recommendations",
        }

        timeline = http.get(f"/v1/customers/{customer['id']}/timeline").json()
        assert timeline["items"]

    # The storefront key sees none of it; a revoked key nothing at all.
    refused = httpx.get(
        f"{gateway}/v1/customers/{customer['id']}", headers={"X-API-Key": storefront}
    )
    assert_problem(refused, 403, "insufficient-scope")
    key_id = backoffice.split("_")[1]
    revoked = httpx.delete(
        f"{gateway}/v1/admin/keys/{key_id}", headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
    )
    assert revoked.status_code == 200
    gone = httpx.get(f"{gateway}/v1/customers", headers={"Authorization": f"Bearer {backoffice}"})
    assert_problem(gone, 401, "invalid-api-key")

    # The request id of the first call is in the customer service's own log.
    for _ in range(50):
        lines = [json.loads(line) for line in customer_service.log_lines() if line.startswith("{")]
        if any(line.get("request_id") == "e2e-gw-1" for line in lines):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the customer service never logged the gateway's request id")


def test_the_gateway_answers_503_fast_when_the_service_stops(
    stack: tuple[str, ServiceProcess], tmp_path: Path
) -> None:
    gateway, customer_service = stack
    key = _key(gateway, "backoffice")
    headers = {"X-API-Key": key}
    path = f"/v1/customers/{uuid.uuid4()}"
    assert httpx.get(f"{gateway}{path}", headers=headers).status_code == 404
    customer_service.process.terminate()
    customer_service.process.wait(10)
    started = time.monotonic()
    statuses = [httpx.get(f"{gateway}{path}", headers=headers).status_code for _ in range(8)]
    assert set(statuses) == {503}
    assert time.monotonic() - started < 5
    ready = httpx.get(f"{gateway}/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["customer"].startswith("failing")
