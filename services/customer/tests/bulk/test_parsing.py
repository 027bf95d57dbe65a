"""The import's parsers: however the body is cut into chunks, the same rows come out."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_customer.bulk.parsing import CsvRows, ImportRow, NdjsonRows, RowParser

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)

CSV = (
    b"\xef\xbb\xbfexternal_ref,email,last_name,tags,consent_email\r\n"
    b'shop-1,ada@example.com,"Lovelace, Countess",vip|newsletter,true\r\n'
    b"\r\n"
    b'shop-2,bob@example.com,"Builder\r\nof things",,\r\n'
    b'"shop-3",carol@example.com,"Carol ""CJ"" Jones",,FALSE\r\n'
    b"shop-4,d\xe9sir\xe9e@example.com,,,\r\n"
    b"shop-5,not-an-email,,,\r\n"
    b"shop-6,emil@example.com,M\xc3\xbcller,,"
)
NDJSON = (
    b'\xef\xbb\xbf{"external_ref": "shop-1", "tags": ["VIP"]}\n'
    b"\n"
    b'{"email": "ADA@example.com", "address": {"city": "Leeds"}}\r\n'
    b"{broken\n"
    b'{"email": "m\xc3\xbcller@example.com"}'
)


def parse(parser: RowParser, body: bytes, cuts: list[int]) -> list[ImportRow]:
    rows: list[ImportRow] = []
    start = 0
    for cut in sorted(set(cuts)):
        rows.extend(parser.feed(body[start:cut]))
        start = cut
    rows.extend(parser.feed(body[start:]))
    rows.extend(parser.finish())
    return rows


def summary(rows: list[ImportRow]) -> list[tuple[object, ...]]:
    return [
        (
            row.row,
            sorted(row.values.items()),
            tuple(row.tags),
            sorted(row.consents.items()),
            [(error.field, error.code) for error in row.errors or []],
        )
        for row in rows
    ]


def test_csv_rows_and_their_errors() -> None:
    rows = summary(parse(CsvRows(NOW), CSV, []))
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][1] == [
        ("email", "ada@example.com"),
        ("external_ref", "shop-1"),
        ("last_name", "Lovelace, Countess"),
    ]
    assert rows[0][2] == ("vip", "newsletter")
    assert rows[0][3] == [
        ("email", {"granted": True, "source": "import", "recorded_at": NOW.isoformat()})
    ]
    assert rows[1][4] == [("last_name", "value_error")]
    assert rows[2][1][2] == ("last_name", 'Carol "CJ" Jones')
    assert rows[2][3][0][1]["granted"] is False
    assert rows[3][4] == [("email", "utf8_invalid")]
    assert rows[4][4] == [("email", "value_error")]
    assert rows[5][1][2] == ("last_name", "Müller")


def test_ndjson_rows_and_their_errors() -> None:
    rows = summary(parse(NdjsonRows(NOW), NDJSON, []))
    assert [row[0] for row in rows] == [1, 2, 3, 4]
    assert rows[0][1:3] == ([("external_ref", "shop-1")], ("vip",))
    # An address given replaces the stored one whole: the fields not named are cleared.
    assert dict(rows[1][1]) == {
        "email": "ada@example.com",
        "address_line1": None,
        "address_line2": None,
        "city": "Leeds",
        "postal_code": None,
        "region": None,
        "country": None,
    }
    assert rows[2][4] == [("row", "json_invalid")]
    assert rows[3][1] == [("email", "müller@example.com")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(CSV)), max_size=12))
def test_csv_chunking_does_not_change_the_rows(cuts: list[int]) -> None:
    assert summary(parse(CsvRows(NOW), CSV, cuts)) == summary(parse(CsvRows(NOW), CSV, []))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(NDJSON)), max_size=12))
def test_ndjson_chunking_does_not_change_the_rows(cuts: list[int]) -> None:
    assert summary(parse(NdjsonRows(NOW), NDJSON, cuts)) == summary(
        parse(NdjsonRows(NOW), NDJSON, [])
    )
