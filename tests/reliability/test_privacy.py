"""Privacy and secrets across real processes: keys kept only as hashes, no personal data in
any service's log, an erased customer gone from every copy, list, export and
recommendation, and secrets that come from the environment only."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import secrets
import sqlite3
import string
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr, ValidationError
from rich.progress import Progress

from crm_analytics.settings import AnalyticsSettings
from crm_cli.demo import demo_dataset
from crm_cli.importers import Importer, ImportState, Services
from crm_customer.settings import CustomerSettings
from crm_gateway.settings import GatewaySettings
from crm_orders.settings import OrdersSettings
from crm_recommend.settings import RecommendSettings
from crm_shared import synthetic
from crm_shared.settings import DEFAULT_SERVICE_TOKEN, Environment, ServiceSettings
from crm_shared.testing import TEST_SERVICE_TOKEN, assert_problem

from .conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("reliability-privacy")]

SHOP_CUSTOMERS = 60
SETTINGS: tuple[type[ServiceSettings], ...] = (
    CustomerSettings,
    OrdersSettings,
    AnalyticsSettings,
    RecommendSettings,
    GatewaySettings,
)
SECRET_WORDS = ("token", "secret", "password", "key")


def _word(length: int = 10) -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))


def _person(n: int) -> dict[str, Any]:
    """A customer whose every personal value is unique to this run, so a scan finds it."""
    tag = _word(8)
    return {
        "email": f"privacy.{tag}.{n}@example.com",
        "first_name": f"Zed{_word(6)}",
        "last_name": f"Quill{_word(6)}",
        "phone": f"+4477009{secrets.randbelow(10**5):05d}",
        "address": {
            "line1": f"{secrets.randbelow(900) + 100} Marrow{_word(5)} Lane",
            "city": "Leeds",
            "postal_code": "LS1 4AP",
            "country": "GB",
        },
    }


def _personal_values(person: dict[str, Any]) -> set[str]:
    return {
        person["email"],
        person["first_name"],
        person["last_name"],
        person["phone"],
        person["address"]["line1"],
    }


def _finish(client: httpx.Client, path: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(path).json()
        if run["status"] in ("succeeded", "failed"):
            assert run["status"] == "succeeded", run
            return run
        time.sleep(0.3)
    raise AssertionError(f"{path} still running after {timeout}s")


def _pages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            path, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def _table_rows(url: str) -> dict[str, list[str]]:
    """Every row of every table of a database, as JSON text, by table."""
    connection = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1))
    try:
        tables = [
            row["tablename"]
            for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        return {
            table: [
                row[0]
                for row in await connection.fetch(f'SELECT row_to_json(t)::text FROM "{table}" t')
            ]
            for table in tables
        }
    finally:
        await connection.close()


def _seed(stack: Stack, directory: Path) -> None:
    """A small synthetic shop, loaded the way `crm run` loads its demo."""
    dataset, _ = demo_dataset(SHOP_CUSTOMERS, end=synthetic.default_end(), seed=5)
    services = Services(
        stack.services["customer"].url, stack.services["orders"].url, TEST_SERVICE_TOKEN
    )
    try:
        importer = Importer(
            dataset, services, ImportState(directory / "import.json", False), Progress(disable=True)
        )
        outcome = importer.run()
        assert outcome.problem_count == 0, outcome.problems[:5]
    finally:
        services.close()


def test_api_keys_are_stored_only_as_hashes(crm_stack: Stack) -> None:
    keys = [crm_stack.key(role) for role in ("storefront", "backoffice", "marketing", "admin")]
    database = crm_stack.gateway.log_path.parent / "gateway.db"
    with sqlite3.connect(database) as connection:
        rows = {
            row[0]: row
            for row in connection.execute("SELECT id, name, role, secret_sha256 FROM api_keys")
        }
    stored = b"".join(path.read_bytes() for path in database.parent.glob("gateway.db*"))
    for key in keys:
        _, key_id, secret = key.split("_", 2)
        assert rows[key_id][3] == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in " ".join(map(str, rows[key_id]))
        assert secret.encode() not in stored, "the key's secret is on disk"
    assert crm_stack.bootstrap_key.encode() not in stored


@pytest.mark.parametrize("settings_class", SETTINGS, ids=lambda cls: cls.__name__)
def test_settings_take_secrets_from_the_environment_only(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    assert prefix, "each service reads its own prefix"
    assert not settings_class.model_config.get("env_file"), "no file of secrets is read"
    assert not settings_class.model_config.get("secrets_dir")
    for name, spec in settings_class.model_fields.items():
        if not any(word in name for word in SECRET_WORDS) or spec.annotation in (int, float):
            continue
        default = spec.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            assert default.get_secret_value() == DEFAULT_SERVICE_TOKEN, name
        else:
            assert default in (None, ""), f"{name} has a baked-in default"
    assert "@" not in str(settings_class.model_fields["database_url"].default)

    for variable in ("ENVIRONMENT", "SERVICE_TOKEN"):
        monkeypatch.delenv(f"{prefix}{variable}", raising=False)
    monkeypatch.setenv(f"{prefix}ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="service_token"):
        settings_class()
    own = secrets.token_urlsafe(32)
    monkeypatch.setenv(f"{prefix}SERVICE_TOKEN", own)
    settings = settings_class()
    assert settings.environment is Environment.production
    assert settings.service_token.get_secret_value() == own
    assert own not in repr(settings)


def test_an_erased_customer_leaves_no_trace_and_no_one_is_logged(
    crm_stack: Stack, tmp_path: Path
) -> None:
    _seed(crm_stack, tmp_path)
    people = [_person(n) for n in range(3)]
    with crm_stack.service_client("orders") as orders:
        products = orders.get("/v1/products", params={"limit": 20}).json()["items"]
    product_ids = [product["id"] for product in products]
    backoffice = {"Authorization": f"Bearer {crm_stack.key('backoffice')}"}
    marketing = {"Authorization": f"Bearer {crm_stack.key('marketing')}"}
    storefront = {"Authorization": f"Bearer {crm_stack.key('storefront')}"}
    admin = {"Authorization": f"Bearer {crm_stack.bootstrap_key}"}
    texts: set[str] = set()
    reviews: list[str] = []
    with httpx.Client(base_url=crm_stack.gateway.url, timeout=60) as gateway:
        ids = []
        for n, person in enumerate(people):
            consents = [{"channel": "email", "granted": True, "source": "signup"}]
            created = gateway.post(
                "/v1/customers", json={**person, "consents": consents}, headers=backoffice
            )
            assert created.status_code == 201, created.text
            customer_id = created.json()["id"]
            ids.append(customer_id)
            ticket_body = f"Please call {person['first_name']} on {person['phone']}."
            texts.add(ticket_body)
            ticket = gateway.post(
                "/v1/tickets",
                json={
                    "customer_id": customer_id,
                    "kind": "complaint",
                    "subject": f"Parcel for {person['last_name']}",
                    "body": ticket_body,
                },
                headers=backoffice,
            )
            assert ticket.status_code == 201, ticket.text
            for k in range(3):
                order = gateway.post(
                    "/v1/orders",
                    json={
                        "customer_id": customer_id,
                        "channel": "web",
                        "currency": "EUR",
                        "placed_at": (
                            dt.datetime.now(dt.UTC) - dt.timedelta(days=10 * k + n)
                        ).isoformat(),
                        "lines": [
                            {
                                "product_id": product_ids[(n + k + j) % len(product_ids)],
                                "quantity": 1,
                                "unit_price": "19.90",
                            }
                            for j in range(2)
                        ],
                    },
                    headers=backoffice,
                )
                assert order.status_code == 201, order.text
                viewed = gateway.post(
                    "/v1/interactions",
                    json={
                        "kind": "view",
                        "customer_id": customer_id,
                        "product_id": product_ids[(n + 5 + k) % len(product_ids)],
                        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
                    },
                    headers=backoffice,
                )
                assert viewed.status_code in (201, 202), viewed.text
            review = f"Sturdy and warm, {_word(12)}"
            reviews.append(review)
            reviewed = gateway.post(
                "/v1/interactions",
                json={
                    "kind": "review",
                    "customer_id": customer_id,
                    "product_id": product_ids[n],
                    "rating": 4,
                    "review_text": review,
                    "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
                },
                headers=backoffice,
            )
            assert reviewed.status_code in (201, 202), reviewed.text
            # Back-office searches by personal data: the query string must not be logged.
            found = gateway.get(
                "/v1/customers", params={"email": person["email"]}, headers=backoffice
            )
            assert [c["id"] for c in found.json()["items"]] == [customer_id]
            export = gateway.get(f"/v1/customers/{customer_id}/gdpr-export", headers=backoffice)
            assert export.status_code == 200, export.text

        _refresh(gateway, admin)
        erased_id, erased = ids[0], people[0]
        # Before the erasure the customer is everywhere the test will look.
        assert (
            gateway.get(f"/v1/customers/{erased_id}/scores", headers=marketing).status_code == 200
        )
        personal = gateway.get(f"/v1/recommendations/{erased_id}", headers=storefront).json()
        assert personal["fallback"] is False, personal
        assert _everything_analytics_lists(gateway, marketing).count(erased["email"]) >= 1
        assert _rows_mentioning(crm_stack.database_urls["analytics"], reviews[0])
        assert _rows_mentioning(crm_stack.database_urls["recommend"], erased_id)

        erasure = gateway.post(
            f"/v1/customers/{erased_id}/erase",
            json={"reason": "GDPR art. 17 request", "requested_by": "privacy desk"},
            headers=backoffice,
        )
        assert erasure.status_code in (200, 201), erasure.text
        # The orders service, which owns interactions, redacts the review before the
        # copies sync again.
        _wait_until_orders_forgets(crm_stack, erased_id, reviews[0])
        _refresh(gateway, admin)

        assert_problem(gateway.get(f"/v1/customers/{erased_id}/scores", headers=marketing), 404)
        lists = _everything_analytics_lists(gateway, marketing)
        for value in (erased_id, *_personal_values(erased)):
            assert value not in lists, f"{value} is still listed by analytics"
        assert people[1]["email"] in lists, "the others are still there"
        recommended = gateway.get(f"/v1/recommendations/{erased_id}", headers=storefront).json()
        assert recommended["fallback"] is True, recommended
        assert {item["source"] for item in recommended["items"]} <= {"popular"}

    # No service keeps the erased customer's personal data, nor a copy of their behaviour.
    for name, url in crm_stack.database_urls.items():
        rows = asyncio.run(_table_rows(url))
        for table, lines in rows.items():
            for value in _personal_values(erased):
                assert not any(value in line for line in lines), f"{value} in {name}.{table}"
    # Their review's text leaves every service, its owner included; the others' stay.
    for name, url in crm_stack.database_urls.items():
        assert not _rows_mentioning(url, reviews[0]), name
    for name in ("orders", "analytics"):
        assert _rows_mentioning(crm_stack.database_urls[name], reviews[1]), name
    left = _rows_mentioning(crm_stack.database_urls["recommend"], erased_id)
    assert set(left) <= {"forgotten_customers"}, left
    analytics_left = _rows_mentioning(crm_stack.database_urls["analytics"], erased_id)
    # Analytics keeps the customer's tombstone (status `erased`, nothing personal) and
    # their order lines under the pseudonymous id; no score, membership, tag or referral.
    assert set(analytics_left) <= {"customers", "order_lines"}, analytics_left

    # Nobody's personal data is in any log line of any process.
    time.sleep(0.3)  # the log writers flush every 50 ms
    logs = {
        path.name: path.read_text(errors="replace")
        for path in crm_stack.gateway.log_path.parent.glob("*.log")
    }
    assert len(logs) == 5
    for person in people:
        for value in _personal_values(person):
            leaks = [name for name, text in logs.items() if value in text]
            assert not leaks, f"{value} logged by {leaks}"
    for text in (*texts, *reviews):
        assert not any(text in log for log in logs.values())


def _wait_until_orders_forgets(stack: Stack, customer_id: str, review: str) -> None:
    """Until the orders service shows the customer's interactions redacted, in its API and
    in its interactions feed read from the beginning."""
    deadline = time.monotonic() + 30
    with stack.service_client("orders") as orders:
        while True:
            listed = orders.get(f"/v1/customers/{customer_id}/interactions", params={"limit": 100})
            assert listed.status_code == 200, listed.text
            items = listed.json()["items"]
            feed = orders.get("/v1/export/interactions", params={"cursor": 0})
            assert feed.status_code == 200, feed.text
            if (
                review not in feed.text
                and [item["review_text"] for item in items if item["kind"] == "review"]
                == ["[erased]"]
                and all(item["session_id"] is None for item in items)
            ):
                return
            assert time.monotonic() < deadline, "the orders service kept the erased review"
            time.sleep(0.2)


def _refresh(gateway: httpx.Client, admin: dict[str, str]) -> None:
    """Analytics scores and recommend trains on what the owners hold now."""
    with _with(gateway, admin) as client:
        scoring = client.post("/v1/runs", json={})
        assert scoring.status_code in (201, 202), scoring.text
        training = client.post("/v1/models/training-runs", json={})
        assert training.status_code in (201, 202), training.text
        _finish(client, f"/v1/runs/{scoring.json()['id']}")
        _finish(client, f"/v1/models/training-runs/{training.json()['id']}")


def _with(gateway: httpx.Client, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=gateway.base_url, headers=headers, timeout=60)


def _everything_analytics_lists(gateway: httpx.Client, marketing: dict[str, str]) -> str:
    """Every segment's members (pages and CSV, any consent) and every score, as one text."""
    with _with(gateway, marketing) as client:
        parts = [str(_pages(client, "/v1/scores"))]
        for segment in _pages(client, "/v1/segments"):
            parts.append(
                str(_pages(client, f"/v1/segments/{segment['id']}/members", consent="any"))
            )
            exported = client.get(
                f"/v1/segments/{segment['id']}/members.csv", params={"consent": "any"}
            )
            assert exported.status_code == 200, exported.text
            parts.append(str(list(csv.reader(io.StringIO(exported.text)))))
    return "\n".join(parts)


def _rows_mentioning(url: str, customer_id: str) -> dict[str, int]:
    """How many rows of each table of a database mention the customer's id."""
    rows = asyncio.run(_table_rows(url))
    found = {table: sum(customer_id in line for line in lines) for table, lines in rows.items()}
    return {table: count for table, count in found.items() if count}
