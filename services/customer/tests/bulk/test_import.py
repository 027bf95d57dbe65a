"""Bulk import of customers: formats, upserts, row errors, limits and retries."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

Importer = Callable[..., Awaitable[httpx.Response]]
ClientWith = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]

HEADER = "external_ref,email,first_name,last_name,phone,country,tags,consent_email"


def csv_body(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def ndjson_body(*rows: dict[str, Any]) -> bytes:
    return b"\n".join(orjson.dumps(row) for row in rows) + b"\n"


async def customers(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Every live customer, by external_ref (or email when it has none)."""
    response = await client.get("/v1/customers", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {c["external_ref"] or c["email"]: c for c in response.json()["items"]}


async def export(client: httpx.AsyncClient, cursor: int = 0) -> list[dict[str, Any]]:
    response = await client.get("/v1/customers/export", params={"cursor": cursor})
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.text.splitlines()]


async def timeline_kinds(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/customers/{customer_id}/timeline")
    assert response.status_code == 200, response.text
    return [event for event in response.json()["items"] if event["kind"] != "created"]


async def scalar(database: Database, sql: str) -> Any:
    async with database.engine.connect() as connection:
        return (await connection.execute(text(sql))).scalar_one()


async def test_csv_rows_create_customers_with_normalised_values(
    client: httpx.AsyncClient, post_import: Importer, database: Database
) -> None:
    header = (
        "external_ref,email,first_name,last_name,phone,address_line1,city,postal_code,"
        "country,locale,lifecycle_stage,tags,consent_email,consent_sms"
    )
    body = csv_body(
        "shop-1, Ada@Example.COM ,Ada,Lovelace,+44 20 7946 0018,12 St James's Square,London,"
        "SW1Y 4JH,gb,en_gb,active,VIP|newsletter,true,false",
        "shop-2,bob@example.com,Bob,,,,,,,,,,,",
        header=header,
    )
    response = await post_import(body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 2,
        "inserted": 2,
        "updated": 0,
        "rejected": 0,
        "committed": True,
        "errors": [],
        "errors_truncated": False,
    }
    stored = await customers(client)
    ada, bob = stored["shop-1"], stored["shop-2"]
    assert ada["email"] == "ada@example.com"
    assert ada["phone"] == "+442079460018"
    assert ada["address"] == {
        "line1": "12 St James's Square",
        "line2": None,
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "region": None,
        "country": "GB",
    }
    assert ada["locale"] == "en-GB"
    assert ada["lifecycle_stage"] == "active"
    assert ada["tags"] == ["newsletter", "vip"]
    consents = {consent["channel"]: consent for consent in ada["consents"]}
    assert consents["email"]["granted"] is True
    assert consents["sms"]["granted"] is False
    assert {consent["source"] for consent in ada["consents"]} == {"import"}
    assert bob["last_name"] is None
    assert bob["lifecycle_stage"] == "new"
    assert bob["tags"] == []
    assert bob["consents"] == []
    tagged = await client.get("/v1/customers", params={"tag": "vip"})
    assert [c["external_ref"] for c in tagged.json()["items"]] == ["shop-1"]
    assert await count_rows(database, "customer_tags") == 2


async def test_ndjson_rows_create_customers(
    client: httpx.AsyncClient, post_import: Importer
) -> None:
    body = ndjson_body(
        {
            "external_ref": "shop-1",
            "email": "ada@example.com",
            "address": {"line1": "12 Main Street", "city": "Leeds", "country": "gb"},
            "tags": ["vip", "VIP"],
            "consents": [
                {
                    "channel": "email",
                    "granted": True,
                    "source": "checkout",
                    "recorded_at": "2024-05-01T10:00:00Z",
                }
            ],
        },
        {"email": "bob@example.com", "lifecycle_stage": "prospect"},
    )
    response = await post_import(body, content_type="application/x-ndjson")
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 2
    stored = await customers(client)
    ada = stored["shop-1"]
    assert ada["address"]["city"] == "Leeds"
    assert ada["address"]["country"] == "GB"
    assert ada["tags"] == ["vip"]
    assert ada["consents"] == [
        {
            "channel": "email",
            "granted": True,
            "source": "checkout",
            "recorded_at": "2024-05-01T10:00:00Z",
        }
    ]
    assert stored["bob@example.com"]["lifecycle_stage"] == "prospect"


async def test_ndjson_row_errors_name_the_field_path(
    post_import: Importer, database: Database
) -> None:
    body = b"\n".join(
        [
            b'{"email": "ada@example.com", "address": {"country": "XX"}}',
            b"",
            b"{not json",
            b'["a", "list"]',
            b'{"email": "bob@example.com", "referred_by": "0190b5c4-0000-7000-8000-000000000000"}',
            b'{"email": "carol@example.com"}',
        ]
    )
    response = await post_import(body, content_type="application/x-ndjson", on_error="skip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["inserted"], report["rejected"]) == (5, 1, 4)
    fields = {error["row"]: [e["field"] for e in error["errors"]] for error in report["errors"]}
    assert fields == {1: ["address.country"], 2: ["row"], 3: ["row"], 4: ["referred_by"]}
    assert await count_rows(database, "customers") == 1


async def test_a_row_with_an_existing_external_ref_changes_only_its_cells(
    client: httpx.AsyncClient, post_import: Importer, new_customer: Any
) -> None:
    ada = await new_customer(
        external_ref="shop-1",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        phone="+4930123456",
        tags=["vip"],
    )
    response = await post_import(csv_body("shop-1,,Augusta,,,,newsletter,"))
    assert response.status_code == 200, response.text
    assert (response.json()["inserted"], response.json()["updated"]) == (0, 1)
    stored = (await customers(client))["shop-1"]
    assert stored["id"] == ada["id"]
    assert stored["first_name"] == "Augusta"
    assert (stored["last_name"], stored["email"], stored["phone"]) == (
        "Lovelace",
        "ada@example.com",
        "+4930123456",
    )
    assert stored["tags"] == ["newsletter", "vip"]
    tagged = await client.get("/v1/customers", params={"tag": "newsletter"})
    assert [c["id"] for c in tagged.json()["items"]] == [ada["id"]]
    events = await timeline_kinds(client, ada["id"])
    assert [(e["kind"], e["data"]) for e in events] == [
        ("updated", {"fields": ["first_name", "tags"]})
    ]
    assert stored["updated_at"] > ada["updated_at"]


async def test_a_row_without_external_ref_matches_by_email(
    client: httpx.AsyncClient, post_import: Importer, new_customer: Any, database: Database
) -> None:
    bob = await new_customer(email="bob@example.com")
    response = await post_import(csv_body(",BOB@example.com,,Builder,,,,"))
    assert response.status_code == 200, response.text
    assert (response.json()["inserted"], response.json()["updated"]) == (0, 1)
    stored = (await customers(client))["bob@example.com"]
    assert (stored["id"], stored["last_name"]) == (bob["id"], "Builder")
    assert await count_rows(database, "customers") == 1


async def test_an_email_of_another_customer_is_a_row_error_not_an_overwrite(
    client: httpx.AsyncClient, post_import: Importer, new_customer: Any, database: Database
) -> None:
    await new_customer(external_ref="a", email="a@example.com", first_name="Ann")
    await new_customer(external_ref="b", email="b@example.com", first_name="Bea")
    body = csv_body("a,b@example.com,Changed,,,,,", "c,b@example.com,New,,,,,")
    response = await post_import(body, on_error="skip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["inserted"], report["updated"], report["rejected"]) == (0, 0, 2)
    assert [
        (e["row"], e["errors"][0]["field"], e["errors"][0]["code"]) for e in report["errors"]
    ] == [
        (1, "email", "email_taken"),
        (2, "email", "email_taken"),
    ]
    stored = await customers(client)
    assert (stored["a"]["email"], stored["a"]["first_name"]) == ("a@example.com", "Ann")
    assert await count_rows(database, "customers") == 2


async def test_abort_stores_nothing_when_any_row_is_invalid(
    post_import: Importer, database: Database
) -> None:
    body = csv_body(
        "shop-1,ada@example.com,Ada,,,,vip,", "shop-2,not-an-email,,,,,,", "shop-3,,,,,,,"
    )
    response = await post_import(body)
    problem = assert_problem(response, 422, "import-rejected")
    report = problem["report"]
    assert (report["received"], report["rejected"], report["committed"]) == (3, 1, False)
    assert report["errors"] == [
        {
            "row": 2,
            "errors": [
                {"field": "email", "message": "is not a valid email address", "code": "value_error"}
            ],
        }
    ]
    assert await count_rows(database, "customers") == 0
    assert await count_rows(database, "customer_tags") == 0


async def test_skip_stores_the_valid_rows_and_reports_the_others(
    client: httpx.AsyncClient, post_import: Importer, database: Database
) -> None:
    body = csv_body(
        "shop-1,ada@example.com,Ada,,,,vip,", "shop-2,not-an-email,,,,,,", "shop-3,,,,,,,"
    )
    response = await post_import(body, on_error="skip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["inserted"], report["rejected"], report["committed"]) == (2, 1, True)
    assert [error["row"] for error in report["errors"]] == [2]
    assert set(await customers(client)) == {"shop-1", "shop-3"}
    assert await count_rows(database, "customers") == 2


async def test_row_numbers_count_data_rows_only(post_import: Importer) -> None:
    body = csv_body(
        "shop-1,ada@example.com,,,,,,",
        "",
        "shop-2,bad@,,,,,,",
        "shop-3,,,,,,,",
        "   ",
        "shop-4,,,,,XX,,",
        "shop-5,,too,few",
        ",,,,,,,",
    )
    response = await post_import(body, on_error="skip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["inserted"], report["rejected"]) == (6, 2, 4)
    assert {e["row"]: [(f["field"], f["code"]) for f in e["errors"]] for e in report["errors"]} == {
        2: [("email", "value_error")],
        4: [("country", "value_error")],
        5: [("row", "cell_count")],
        6: [("row", "value_error")],
    }


async def _in_pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_quoted_cells_bom_crlf_and_a_last_line_without_newline(
    client: httpx.AsyncClient, post_import: Importer
) -> None:
    body = (
        b"\xef\xbb\xbfexternal_ref,email,last_name,tags\r\n"
        b'shop-1,ada@example.com,"Lovelace, Countess","vip|newsletter"\r\n'
        b'shop-2,bob@example.com,"Builder\r\nof things",\r\n'
        b"\r\n"
        b'"shop-3",carol@example.com,"Carol ""CJ"" Jones",'
    )
    # Cut in pieces of 3 bytes: the BOM, quotes and line ends all fall across chunks.
    response = await post_import(_in_pieces(body, 3), on_error="skip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["inserted"], report["rejected"]) == (3, 2, 1)
    assert [(e["row"], e["errors"][0]["field"]) for e in report["errors"]] == [(2, "last_name")]
    stored = await customers(client)
    assert stored["shop-1"]["last_name"] == "Lovelace, Countess"
    assert stored["shop-3"]["last_name"] == 'Carol "CJ" Jones'


async def test_a_tag_that_is_not_a_tag_is_a_row_error(post_import: Importer) -> None:
    body = b'external_ref,tags\nshop-1,"vip|""odd"" tag"\n'
    response = await post_import(body, on_error="skip")
    report = response.json()
    assert [(e["row"], e["errors"][0]["field"]) for e in report["errors"]] == [(1, "tags")]


async def test_invalid_utf8_in_a_cell_is_a_row_error(
    client: httpx.AsyncClient, post_import: Importer
) -> None:
    body = b"external_ref,first_name\nshop-1,Ad\xe9le\nshop-2,Ren\xc3\xa9e\n"
    response = await post_import(body, on_error="skip")
    assert response.status_code == 200, response.text
    report = response.json()
    assert [
        (e["row"], e["errors"][0]["field"], e["errors"][0]["code"]) for e in report["errors"]
    ] == [(1, "first_name", "utf8_invalid")]
    assert (await customers(client))["shop-2"]["first_name"] == "Renée"


async def test_a_broken_header_is_refused_before_anything_is_written(
    post_import: Importer, database: Database
) -> None:
    unknown = await post_import(
        csv_body("shop-1,Ada,x", header="external_ref,first_name,shoe_size")
    )
    problem = assert_problem(unknown, 422, "import-header-invalid")
    assert problem["unknown_columns"] == ["shoe_size"]
    referrer = await post_import(csv_body("shop-1,x", header="external_ref,referred_by"))
    assert_problem(referrer, 422, "import-header-invalid")
    no_key = await post_import(csv_body("Ada", header="first_name"))
    assert_problem(no_key, 422, "import-header-invalid")
    undecodable = await post_import(b"external_ref,first_n\xe4me\nshop-1,Ada\n")
    assert_problem(undecodable, 422, "import-header-invalid")
    empty = await post_import(b"")
    assert_problem(empty, 422, "import-header-invalid")
    assert await count_rows(database, "customers") == 0


async def test_other_content_types_are_refused(post_import: Importer, database: Database) -> None:
    body = csv_body("shop-1,ada@example.com,,,,,,")
    assert_problem(await post_import(body, content_type="application/json"), 415)
    assert_problem(await post_import(body, content_type="text/csv; charset=latin-1"), 415)
    ok = await post_import(body, content_type="text/csv; charset=utf-8")
    assert ok.status_code == 200, ok.text
    assert await count_rows(database, "customers") == 1


async def test_running_a_file_again_changes_nothing(
    client: httpx.AsyncClient, post_import: Importer, database: Database
) -> None:
    body = csv_body(
        "shop-1, Ada@Example.com ,Ada,Lovelace,+44 20 7946 0018,gb,vip|newsletter,true",
        "shop-2,bob@example.com,Bob,,,,,false",
    )
    first = await post_import(body)
    assert (first.json()["inserted"], first.json()["updated"]) == (2, 0)
    cursor = max(line["position"] for line in await export(client))
    before = await customers(client)

    again = await post_import(body)
    assert again.status_code == 200, again.text
    assert (again.json()["inserted"], again.json()["updated"]) == (0, 0)
    assert await export(client, cursor) == []
    assert await customers(client) == before
    assert await count_rows(database, "customer_events") == 0


async def test_a_consent_on_record_is_kept_and_a_withdrawal_recorded(
    client: httpx.AsyncClient, post_import: Importer, new_customer: Any
) -> None:
    consent = {"channel": "email", "granted": True, "source": "checkout"}
    await new_customer(external_ref="shop-1", consents=[consent])
    header = "external_ref,consent_email"
    same = await post_import(csv_body("shop-1,true", header=header))
    assert same.json()["updated"] == 0
    withdrawn = await post_import(csv_body("shop-1,false", header=header))
    assert withdrawn.json()["updated"] == 1
    (stored,) = (await customers(client))["shop-1"]["consents"]
    assert (stored["granted"], stored["source"]) == (False, "import")


async def test_rows_about_the_same_customer_apply_in_order(
    client: httpx.AsyncClient, post_import: Importer, new_customer: Any
) -> None:
    await new_customer(external_ref="a", email="a@example.com")
    await new_customer(external_ref="b", email="b@example.com")
    body = csv_body(
        "shop-1,x@example.com,Ada,,,,vip,",
        "shop-1,y@example.com,Augusta,,,,newsletter,",
        # x@ was left by shop-1 in the row before: free to take.
        "shop-2,x@example.com,,,,,,",
        # Keys pass between existing customers: b leaves b@, then a takes it.
        "b,b2@example.com,,,,,,",
        "a,b@example.com,,,,,,",
    )
    response = await post_import(body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["inserted"], report["updated"], report["rejected"]) == (2, 2, 0)
    stored = await customers(client)
    assert (stored["shop-1"]["email"], stored["shop-1"]["first_name"]) == (
        "y@example.com",
        "Augusta",
    )
    assert stored["shop-1"]["tags"] == ["newsletter", "vip"]
    assert stored["shop-2"]["email"] == "x@example.com"
    assert (stored["a"]["email"], stored["b"]["email"]) == ("b@example.com", "b2@example.com")
    # Created by this import: no "updated" event for the second row about it.
    assert await timeline_kinds(client, stored["shop-1"]["id"]) == []


async def test_an_idempotency_key_replays_the_first_report(
    client: httpx.AsyncClient, post_import: Importer, database: Database
) -> None:
    body = csv_body("shop-1,ada@example.com,Ada,,,,,", "shop-2,bob@example.com,Bob,,,,,")
    key = {"Idempotency-Key": "import-2024-05-01"}
    first = await post_import(body, headers=key)
    assert first.status_code == 200, first.text
    ada = (await customers(client))["shop-1"]
    renamed = await client.patch(f"/v1/customers/{ada['id']}", json={"first_name": "Augusta"})
    assert renamed.status_code == 200

    retry = await post_import(_in_pieces(body, 7), headers=key)
    assert retry.status_code == 200, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    # A replay is not a re-run: the change made since stays.
    assert (await customers(client))["shop-1"]["first_name"] == "Augusta"

    other = await post_import(csv_body("shop-3,carol@example.com,,,,,,"), headers=key)
    assert_problem(other, 409, "idempotency-key-reused")
    assert await count_rows(database, "customers") == 2


async def test_a_refused_retry_still_replays_a_stored_report(
    client: httpx.AsyncClient, post_import: Importer, new_customer: Any
) -> None:
    body = csv_body("shop-1,ada@example.com,,,,,,")
    key = {"Idempotency-Key": "import-once"}
    first = await post_import(body, headers=key)
    assert first.status_code == 200, first.text
    # Someone else now holds the email: running the file again would be refused.
    ada = (await customers(client))["shop-1"]
    await client.patch(f"/v1/customers/{ada['id']}", json={"email": "ada@new.example.com"})
    await new_customer(external_ref="other", email="ada@example.com")
    assert_problem(await post_import(body), 422, "import-rejected")
    retry = await post_import(body, headers=key)
    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()


async def test_more_rows_than_allowed_is_refused_whole(
    client_with: ClientWith, post_import: Importer, database: Database
) -> None:
    async with client_with(import_max_rows=3) as http:
        rows = [f"shop-{n},,,,,,," for n in range(4)]
        too_many = await post_import(csv_body(*rows), http=http, on_error="skip")
        assert_problem(too_many, 413, "import-too-large")
        assert await count_rows(database, "customers") == 0
        enough = await post_import(csv_body(*rows[:3], "", ""), http=http)
        assert enough.status_code == 200, enough.text
    assert await count_rows(database, "customers") == 3


async def test_thousands_of_rows_across_batches(
    client_with: ClientWith, post_import: Importer, database: Database, client: httpx.AsyncClient
) -> None:
    rows = [
        f"shop-{n},customer{n}@example.com,First{n},,,DE,{'vip' if n % 3 == 0 else ''},"
        for n in range(2500)
    ]
    # Later rows about customers of earlier batches: they win, as updates of new customers.
    rows += [f"shop-{n},,Renamed{n},,,,newsletter," for n in range(0, 2500, 500)]
    async with client_with(import_batch_size=100) as http:
        response = await post_import(csv_body(*rows), http=http)
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["received"], report["inserted"], report["updated"]) == (2505, 2500, 0)
        # Run again, the file renames those five customers back and forth once more.
        again = await post_import(csv_body(*rows), http=http)
        assert (again.json()["inserted"], again.json()["updated"]) == (0, 5)
    assert await count_rows(database, "customers") == 2500
    assert await scalar(database, "SELECT count(DISTINCT change_position) FROM customers") == 2500
    assert await count_rows(database, "customer_tags") == 834 + 5
    assert await count_rows(database, "customer_events") == 5 * 2
    renamed = await client.get("/v1/customers", params={"email": "customer500@example.com"})
    (customer,) = renamed.json()["items"]
    assert (customer["first_name"], customer["tags"]) == ("Renamed500", ["newsletter"])
    assert len(await export(client)) == 2500


async def test_the_first_thousand_errors_are_listed(post_import: Importer) -> None:
    rows = [f"shop-{n},not-an-email,,,,,," for n in range(1005)]
    response = await post_import(csv_body(*rows), on_error="skip")
    report = response.json()
    assert (report["rejected"], len(report["errors"]), report["errors_truncated"]) == (
        1005,
        1000,
        True,
    )
    assert report["errors"][-1]["row"] == 1000


async def test_the_route_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/customers/import"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) >= {"text/csv", "application/x-ndjson"}
    ndjson_row = content["application/x-ndjson"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert ndjson_row in spec["components"]["schemas"]
    assert {"200", "409", "413", "415", "422"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ImportReport"
    }


async def test_the_cycle_collector_runs_again_after_an_import(post_import: Importer) -> None:
    assert gc.isenabled()
    assert (await post_import(csv_body("shop-1,ada@example.com,,,,,,"))).status_code == 200
    assert gc.isenabled()
    assert (await post_import(csv_body("shop-2,not-an-email,,,,,,"))).status_code == 422
    assert gc.isenabled()
