"""A catalogue of hostile and broken requests through the real gateway, services on
PostgreSQL: each is a 4xx problem+json and stores nothing, checked by counting the rows
of the services' databases before and after."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("reliability-stack")]
# The tables a write of the catalogue could reach, per service.
COUNTED = {
    "customer": ("customers", "tickets"),
    "orders": ("orders", "order_lines", "products", "interactions"),
}


@dataclass(frozen=True)
class Shop:
    http: httpx.Client
    database_urls: dict[str, str]
    customer_id: str
    product_id: str
    order_id: str  # a pending order


@dataclass(frozen=True)
class BadRequest:
    name: str
    method: str
    path: str
    json_body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    statuses: tuple[int, ...] = (422,)
    slug: str | None = None


async def _counts(database_urls: dict[str, str]) -> dict[str, int]:
    counts = {}
    for service, tables in COUNTED.items():
        connection = await asyncpg.connect(database_urls[service])
        try:
            for table in tables:
                counts[table] = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
        finally:
            await connection.close()
    return counts


@pytest.fixture(scope="module")
def shop(crm_stack: Any) -> Iterator[Shop]:
    """A customer, a product and a pending order to aim the bad requests at."""
    key = crm_stack.key("backoffice")
    admin = crm_stack.key("admin")
    with (
        httpx.Client(
            base_url=crm_stack.gateway.url, headers={"X-API-Key": key}, timeout=60
        ) as http,
        httpx.Client(
            base_url=crm_stack.gateway.url, headers={"X-API-Key": admin}, timeout=60
        ) as admin_http,
    ):
        customer = http.post(
            "/v1/customers", json={"email": f"{uuid.uuid4().hex}@example.com"}
        ).json()
        product = admin_http.post(
            "/v1/products",
            json={
                "sku": f"BAD-{uuid.uuid4().hex[:8]}",
                "name": "Kettle",
                "price": "20.00",
                "currency": "EUR",
            },
        )
        assert product.status_code == 201, product.text
        order = http.post(
            "/v1/orders",
            json={
                "customer_id": customer["id"],
                "channel": "web",
                "currency": "EUR",
                "lines": [{"product_id": product.json()["id"], "quantity": 1}],
            },
        )
        assert order.status_code == 201, order.text
        yield Shop(
            http, crm_stack.database_urls, customer["id"], product.json()["id"], order.json()["id"]
        )


def _order(shop: Shop, **line: Any) -> dict[str, Any]:
    return {
        "customer_id": shop.customer_id,
        "channel": "web",
        "currency": "EUR",
        "lines": [{"product_id": shop.product_id, "quantity": 1, **line}],
    }


def _catalogue(shop: Shop) -> list[BadRequest]:
    deep = "[" * 100_000 + "]" * 100_000
    huge = json.dumps({"email": "big@example.com", "notes": "x" * (5 * 1024 * 1024)})
    return [
        BadRequest(
            "malformed JSON",
            "POST",
            "/v1/customers",
            content=b'{"email": "a@example.com",',
            headers={"content-type": "application/json"},
            slug="validation-error",
        ),
        BadRequest(
            "bytes that are not UTF-8",
            "POST",
            "/v1/customers",
            content=b'{"email": "\xff\xfe@example.com"}',
            headers={"content-type": "application/json"},
            slug="validation-error",
        ),
        BadRequest(
            "wrong types",
            "POST",
            "/v1/customers",
            json_body={"email": 12, "first_name": ["Ada"], "tags": "vip"},
            slug="validation-error",
        ),
        BadRequest("a JSON array for an object", "POST", "/v1/customers", json_body=[1, 2]),
        BadRequest(
            "a body over the size limit",
            "POST",
            "/v1/customers",
            content=huge.encode(),
            headers={"content-type": "application/json"},
            statuses=(413,),
        ),
        BadRequest(
            "nesting deeper than the parser goes",
            "POST",
            "/v1/customers",
            content=f'{{"email": "deep@example.com", "attributes": {{"a": {deep}}}}}'.encode(),
            headers={"content-type": "application/json"},
        ),
        BadRequest(
            "NUL in a name",
            "POST",
            "/v1/customers",
            json_body={"email": "nul@example.com", "first_name": "Ada\u0000Lovelace"},
        ),
        BadRequest(
            "a lone surrogate",
            "POST",
            "/v1/customers",
            content=b'{"email": "surrogate@example.com", "first_name": "\\ud800"}',
            headers={"content-type": "application/json"},
        ),
        BadRequest(
            "a very long name",
            "POST",
            "/v1/customers",
            json_body={"email": "long@example.com", "first_name": "A" * 100_000},
        ),
        BadRequest(
            "SQL in an email",
            "POST",
            "/v1/customers",
            json_body={"email": "x'); DROP TABLE customers;--@example.com"},
        ),
        BadRequest(
            "path traversal in an id",
            "GET",
            "/v1/customers/..%2F..%2Fetc%2Fpasswd",
            statuses=(404, 422),
        ),
        BadRequest(
            "path traversal in a SKU",
            "GET",
            "/v1/products/by-sku/..%2F..%2Fetc%2Fpasswd",
            statuses=(404,),
        ),
        BadRequest("zero quantity", "POST", "/v1/orders", json_body=_order(shop, quantity=0)),
        BadRequest("negative quantity", "POST", "/v1/orders", json_body=_order(shop, quantity=-3)),
        BadRequest(
            "negative price", "POST", "/v1/orders", json_body=_order(shop, unit_price="-1.00")
        ),
        BadRequest(
            "an unknown customer",
            "POST",
            "/v1/orders",
            json_body={**_order(shop), "customer_id": str(uuid.uuid4())},
            slug="customer-not-found",
        ),
        BadRequest(
            "an unknown product",
            "POST",
            "/v1/orders",
            json_body={
                **_order(shop),
                "lines": [{"product_id": str(uuid.uuid4()), "quantity": 1}],
            },
        ),
        BadRequest(
            "an unknown ticket's customer",
            "POST",
            "/v1/tickets",
            json_body={
                "customer_id": str(uuid.uuid4()),
                "kind": "complaint",
                "subject": "Where is it",
                "body": "Never came.",
            },
            statuses=(404, 422),
        ),
        BadRequest(
            "an invalid status transition",
            "POST",
            f"/v1/orders/{shop.order_id}/status",
            json_body={"status": "delivered"},
            statuses=(409,),
            slug="invalid-transition",
        ),
        BadRequest(
            "a CSV import with a bad row",
            "POST",
            "/v1/customers/import",
            content=b"email,first_name\nok1@example.com,Ok\nnot-an-email,Bad\n",
            headers={"content-type": "text/csv"},
        ),
        BadRequest(
            "a CSV import with a ragged row",
            "POST",
            "/v1/customers/import",
            content=b'email,first_name\nok2@example.com,Ok\n"unterminated,x\n',
            headers={"content-type": "text/csv"},
        ),
        BadRequest(
            "an NDJSON import with a broken line",
            "POST",
            "/v1/customers/import",
            content=b'{"email": "ok3@example.com"}\n{"email": \n',
            headers={"content-type": "application/x-ndjson"},
        ),
        BadRequest(
            "an NDJSON order import with a negative quantity",
            "POST",
            "/v1/orders/import",
            content=(json.dumps(_order(shop, quantity=-1)) + "\n").encode(),
            headers={"content-type": "application/x-ndjson"},
        ),
    ]


CASES = 23


@pytest.mark.parametrize("case", range(CASES))
def test_bad_input_is_a_problem_and_stores_nothing(shop: Shop, case: int) -> None:
    catalogue = _catalogue(shop)
    assert len(catalogue) == CASES
    bad = catalogue[case]
    before = asyncio.run(_counts(shop.database_urls))
    response = shop.http.request(
        bad.method,
        bad.path,
        json=bad.json_body if bad.content is None else None,
        content=bad.content,
        headers=bad.headers,
    )
    assert response.status_code in bad.statuses, f"{bad.name}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), bad.name
    problem = response.json()
    assert problem["status"] == response.status_code
    if bad.slug is not None:
        assert problem["type"] == f"urn:crm:problem:{bad.slug}", problem
    assert asyncio.run(_counts(shop.database_urls)) == before, bad.name


@pytest.mark.parametrize(
    "name",
    [
        "\u202eevil\u202c Smith",  # right-to-left override
        "Zoë 🫖☕ 👩🏽‍💻",  # emoji, a skin tone, a zero-width joiner
        '=HYPERLINK("http://x","y")',  # a spreadsheet formula
        "Robert'); DROP TABLE customers;--",  # SQL
    ],
)
def test_odd_but_valid_text_is_stored_exactly(shop: Shop, name: str) -> None:
    """Unusual text that is a legitimate name is kept byte for byte, and an injection-like
    one is only text: the table it names is still there."""
    created = shop.http.post(
        "/v1/customers", json={"email": f"{uuid.uuid4().hex}@example.com", "first_name": name}
    )
    assert created.status_code == 201, created.text
    read = shop.http.get(f"/v1/customers/{created.json()['id']}")
    assert read.json()["first_name"] == name
    found = shop.http.get("/v1/customers", params={"q": name})
    assert found.status_code == 200, found.text
    assert asyncio.run(_counts(shop.database_urls))["customers"] >= 2
