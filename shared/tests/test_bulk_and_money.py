"""The bulk helpers (NDJSON rows, id blocks) and the money types of the contract."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from crm_shared.bulk import (
    ImportMalformed,
    ImportTooLarge,
    UnsupportedImportType,
    ndjson_batches,
    require_ndjson,
)
from crm_shared.ids import uuid7, uuid7_block
from crm_shared.types import Amount, CurrencyCode, Sku, minor_unit_digits, quantize_money


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _collect(*parts: bytes, batch_size: int = 2, max_rows: int = 100) -> list:
    return [
        batch
        async for batch in ndjson_batches(_chunks(*parts), batch_size=batch_size, max_rows=max_rows)
    ]


async def test_ndjson_rows_are_numbered_across_chunks_and_blank_lines() -> None:
    batches = await _collect(b'{"a": 1}\n\n  \r\n{"a"', b': 2}\r\n{"a": 3}\n{"a": 4}')
    assert batches == [
        [(1, b'{"a": 1}'), (2, b'{"a": 2}\r')],
        [(3, b'{"a": 3}'), (4, b'{"a": 4}')],
    ]
    assert await _collect(b"", b"\n\n") == []


async def test_too_many_rows_and_endless_lines_are_refused() -> None:
    with pytest.raises(ImportTooLarge):
        await _collect(b"{}\n" * 4, max_rows=3)
    with pytest.raises(ImportMalformed):
        await _collect(b"x" * (1 << 20), b"x" * 10)


@pytest.mark.parametrize(
    "content_type",
    ["application/x-ndjson", "application/ndjson; charset=utf-8", "Application/X-NDJSON"],
)
def test_ndjson_media_types(content_type: str) -> None:
    require_ndjson(content_type)


@pytest.mark.parametrize(
    "content_type", [None, "text/csv", "application/x-ndjson; charset=latin-1"]
)
def test_other_media_types_are_refused(content_type: str | None) -> None:
    with pytest.raises(UnsupportedImportType):
        require_ndjson(content_type)


def test_uuid7_blocks_continue_the_sequence() -> None:
    before = uuid7()
    block = uuid7_block(1000)
    after = uuid7()
    sequence = [before, *block, after]
    assert sequence == sorted(sequence)
    assert len(set(sequence)) == 1002
    assert all(isinstance(item, uuid.UUID) and item.version == 7 for item in block)
    assert uuid.UUID(str(block[0])) == block[0]
    assert uuid7_block(0) == []


@pytest.mark.parametrize(
    ("currency", "amount", "rounded"),
    [
        ("EUR", "19.995", "20.00"),
        ("EUR", "19.994999", "19.99"),
        ("JPY", "1500.5", "1501"),
        ("JPY", "1500.49", "1500"),
        ("KWD", "0.0005", "0.001"),
        ("CLF", "1.00005", "1.0001"),
        ("USD", "1E+3", "1000.00"),
    ],
)
def test_money_rounds_half_up_to_the_minor_unit(currency: str, amount: str, rounded: str) -> None:
    assert str(quantize_money(Decimal(amount), currency)) == rounded


def test_minor_units() -> None:
    assert [minor_unit_digits(code) for code in ("EUR", "JPY", "BHD", "GBP")] == [2, 0, 3, 2]


def test_currency_codes_are_iso_4217_money() -> None:
    currency = TypeAdapter(CurrencyCode)
    assert currency.validate_python("eur") == "EUR"
    for bad in ("EU", "EURO", "ABC", "XAU", "XXX", ""):
        with pytest.raises(ValidationError):
            currency.validate_python(bad)


def test_amounts_and_skus() -> None:
    amount = TypeAdapter(Amount)
    assert amount.validate_json("19.99") == Decimal("19.99")
    assert amount.validate_json('"0.10"') == Decimal("0.10")
    for bad in ('"-0.01"', '"NaN"', '"Infinity"', '"1e14"', '"ten"'):
        with pytest.raises(ValidationError):
            amount.validate_json(bad)
    sku = TypeAdapter(Sku)
    assert sku.validate_python(" BANK CHARGES ") == "BANK CHARGES"
    for bad in ("", " ", "a\nb", "x" * 65):
        with pytest.raises(ValidationError):
            sku.validate_python(bad)
