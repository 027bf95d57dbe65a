"""Batches of interactions: streamed NDJSON, per-row errors, replays counted once."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

NDJSON = {"content-type": "application/x-ndjson"}
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def an_event(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "view",
        "session_id": "s-1",
        "occurred_at": (NOW - dt.timedelta(minutes=5)).isoformat(),
        **fields,
    }


def ndjson(*rows: Any) -> bytes:
    return b"".join(
        (row if isinstance(row, bytes) else json.dumps(row).encode()) + b"\n" for row in rows
    )


async def post_batch(client: httpx.AsyncClient, body: bytes) -> dict[str, Any]:
    response = await client.post("/v1/interactions/batch", content=body, headers=NDJSON)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def test_a_batch_stores_the_valid_events_and_reports_each_bad_row(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    product = await new_product(sku="A")
    await new_product(sku="B")
    body = ndjson(
        an_event(sku="A", event_id="e1"),
        b'{"kind": "view", oops',
        an_event(product_id=product["id"], event_id="e2"),
        an_event(sku="NOPE"),
        an_event(sku="B", kind="rating"),
        an_event(sku="B", event_id="e1"),
        an_event(sku="B", kind="rating", rating=2),
    )
    report = await post_batch(client, body)
    assert report["received"] == 7
    assert report["inserted"] == 3
    assert report["duplicates"] == 1
    assert report["rejected"] == 3
    assert report["errors_truncated"] is False
    errors = {error["row"]: error["errors"] for error in report["errors"]}
    assert [error["row"] for error in report["errors"]] == [2, 4, 5]
    assert errors[2][0]["code"] == "json_invalid"
    assert errors[4] == [{"field": "sku", "message": "no product NOPE", "code": "unknown_product"}]
    assert errors[5][0]["field"] == "row"
    assert "rating" in errors[5][0]["message"]
    assert await count_rows(database, "interactions") == 3


async def test_sending_a_batch_again_stores_nothing_twice(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    await new_product(sku="A")
    events = [an_event(sku="A", event_id=f"ev-{n}") for n in range(20)]
    first = await post_batch(client, ndjson(*events[:12]))
    assert (first["inserted"], first["duplicates"]) == (12, 0)
    # Overlapping with the first: its 12 events are replays, the other 8 are new.
    second = await post_batch(client, ndjson(*events))
    assert (second["received"], second["inserted"], second["duplicates"]) == (20, 8, 12)
    assert second["rejected"] == 0
    assert await count_rows(database, "interactions") == 20

    single = await client.post("/v1/interactions", json=events[3])
    assert single.status_code == 200
    assert await count_rows(database, "interactions") == 20


async def test_blank_lines_crlf_and_a_bom_are_fine(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    await new_product(sku="A")
    line = json.dumps(an_event(sku="A")).encode()
    body = b"\xef\xbb\xbf" + line + b"\r\n\r\n   \n" + line + b"\r\n" + b"{}" + b"\n" + line
    report = await post_batch(client, body)
    assert (report["received"], report["inserted"], report["rejected"]) == (4, 3, 1)
    # Row numbers count the non-blank lines.
    assert report["errors"][0]["row"] == 3
    assert await count_rows(database, "interactions") == 3


async def test_more_than_ten_thousand_events_stream_in_one_request(
    client: httpx.AsyncClient, database: Database, new_product
) -> None:
    skus = [f"P-{n}" for n in range(50)]
    for sku in skus:
        await new_product(sku=sku)
    count = 12_000
    customer = str(uuid.uuid4())

    async def body() -> AsyncIterator[bytes]:
        # Small pieces that cut lines in the middle, as a network delivers them.
        data = ndjson(
            *(
                an_event(sku=skus[n % 50], event_id=f"big-{n}", customer_id=customer)
                for n in range(count)
            )
        )
        for start in range(0, len(data), 7001):
            yield data[start : start + 7001]

    response = await client.post("/v1/interactions/batch", content=body(), headers=NDJSON)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["inserted"], report["rejected"]) == (count, count, 0)
    assert await count_rows(database, "interactions") == count

    exported = await client.get("/v1/export/interactions")
    positions = [json.loads(line)["position"] for line in exported.text.splitlines()]
    assert positions == sorted(positions)
    assert len(set(positions)) == count


async def test_a_batch_over_the_limit_is_413_and_stores_nothing(
    client: httpx.AsyncClient, database: Database, app: FastAPI, new_product
) -> None:
    await new_product(sku="A")
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"interactions_max_events": 5})
    try:
        exactly = await post_batch(client, ndjson(*(an_event(sku="A") for _ in range(5))))
        assert exactly["inserted"] == 5
        response = await client.post(
            "/v1/interactions/batch",
            content=ndjson(*(an_event(sku="A") for _ in range(6))),
            headers=NDJSON,
        )
    finally:
        app.state.settings = settings
    assert_problem(response, 413, "import-too-large")
    assert await count_rows(database, "interactions") == 5


async def test_only_ndjson_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/interactions/batch", content=b"kind,sku\n", headers={"content-type": "text/csv"}
    )
    assert_problem(response, 415, "unsupported-import-type")


async def test_an_empty_batch_reports_nothing(client: httpx.AsyncClient) -> None:
    report = await post_batch(client, b"\n\n")
    assert report == {
        "received": 0,
        "inserted": 0,
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
        "errors_truncated": False,
    }


async def test_the_first_thousand_errors_are_listed_in_row_order(
    client: httpx.AsyncClient, new_product
) -> None:
    await new_product(sku="A")
    rows = []
    for n in range(1500):
        # Alternate the two kinds of rejection: found while parsing, and by product.
        rows.append(an_event(sku="A", kind="nope") if n % 2 else an_event(sku="MISSING"))
    report = await post_batch(client, ndjson(*rows))
    assert report["rejected"] == 1500
    assert report["errors_truncated"] is True
    assert [error["row"] for error in report["errors"]] == list(range(1, 1001))


INVALID_OR_NOT = [
    {},
    an_event(sku="A"),
    an_event(sku="A", session_id=None, customer_id=None),
    an_event(sku="A", product_id=str(uuid.uuid4())),
    an_event(sku="A", kind="review", rating=5),
    an_event(sku="A", kind="review", rating=5, review_text="  "),
    an_event(sku="A", kind="review", rating="5", review_text="ok"),
    an_event(sku="A", kind="rating", rating=0),
    an_event(sku="A", kind="rating", rating=2.5),
    an_event(sku="A", occurred_at="2024-02-30T10:00:00Z"),
    an_event(sku="A", occurred_at=1714557600),
    an_event(sku="A", occurred_at="2024-05-01T10:00:00"),
    an_event(sku=" A "),
    an_event(sku="A\tB"),
    an_event(sku="A", event_id="x" * 101),
    an_event(sku="A", customer_id="not-a-uuid"),
    an_event(sku="A", session_id="\u0000"),
    an_event(sku="A", extra=True),
]


@pytest.mark.parametrize("event", INVALID_OR_NOT)
async def test_a_batch_row_is_judged_like_a_single_event(
    client: httpx.AsyncClient, new_product, event: dict[str, Any]
) -> None:
    await new_product(sku="A")
    event = {key: value for key, value in event.items() if value is not None}
    single = await client.post("/v1/interactions", json=event)
    report = await post_batch(client, ndjson(event))
    if single.status_code == 201:
        assert (report["inserted"], report["rejected"]) == (1, 0)
        return
    assert single.status_code == 422, single.text
    assert report["rejected"] == 1
    single_fields = sorted(
        error["field"].removeprefix("body").lstrip(".") or "row"
        for error in single.json()["errors"]
    )
    batch_fields = sorted(error["field"] for error in report["errors"][0]["errors"])
    assert batch_fields == single_fields
