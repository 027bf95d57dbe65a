"""Streamed CSV and NDJSON bodies turned into validated import rows, one chunk at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from crm_customer.bulk.errors import ImportHeaderInvalid, ImportMalformed, UnsupportedImportType
from crm_customer.customers.service import ADDRESS_FIELDS
from crm_shared.schemas.common import FieldError
from crm_shared.schemas.customers import Address, ConsentIn, CustomerCreate

BOM = b"\xef\xbb\xbf"
# A customer row is a few hundred bytes; a "record" this long means a quote never closed.
MAX_RECORD_BYTES = 1 << 20

CONSENT_COLUMNS = {"consent_email": "email", "consent_sms": "sms"}
CSV_COLUMNS = (
    "external_ref",
    "email",
    "first_name",
    "last_name",
    "phone",
    *ADDRESS_FIELDS.values(),
    "locale",
    "lifecycle_stage",
    "tags",
    *CONSENT_COLUMNS,
)
_PLAIN_FIELDS = ("external_ref", "email", "first_name", "last_name", "phone", "locale")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of invalid UTF-8


class ImportFormat(StrEnum):
    csv = "csv"
    ndjson = "ndjson"


MEDIA_TYPES = {
    "text/csv": ImportFormat.csv,
    "application/x-ndjson": ImportFormat.ndjson,
    "application/ndjson": ImportFormat.ndjson,
}


def import_format(content_type: str | None) -> ImportFormat:
    media_type, _, parameters = (content_type or "").partition(";")
    found = MEDIA_TYPES.get(media_type.strip().lower())
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", parameters, re.IGNORECASE)
    if found is None or (charset is not None and charset.group(1).lower() not in ("utf-8", "utf8")):
        raise UnsupportedImportType(
            f"Content-Type {content_type!r} is not supported; send UTF-8 text/csv or "
            "application/x-ndjson."
        )
    return found


@dataclass(slots=True)
class ImportRow:
    """One data row: the columns it sets (already normalised) or why it cannot be used."""

    row: int
    values: dict[str, Any] = field(default_factory=dict)
    tags: Sequence[str] = ()
    consents: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[FieldError] | None = None


class RowParser(Protocol):
    rows: int

    def feed(self, chunk: bytes) -> list[ImportRow]: ...

    def finish(self) -> list[ImportRow]: ...


def row_parser(format: ImportFormat, now: dt.datetime) -> RowParser:
    return CsvRows(now) if format is ImportFormat.csv else NdjsonRows(now)


def _consents(customer: CustomerCreate, source: str | None, now: str) -> dict[str, dict[str, Any]]:
    """The customer's consents as stored; given now unless the row says when."""
    return {
        # `_value_`, not `value`: the enum property costs more than the rest of the dict.
        consent.channel._value_: {
            "granted": consent.granted,
            "source": source or consent.source,
            "recorded_at": consent.recorded_at.isoformat() if consent.recorded_at else now,
        }
        for consent in customer.consents
    }


def _invalid(number: int, field_name: str, message: str, code: str) -> ImportRow:
    return ImportRow(number, errors=[FieldError(field=field_name, message=message, code=code)])


def _field_errors(exc: ValidationError, name_of: Any) -> list[FieldError]:
    return [
        FieldError(
            field=name_of(error["loc"]),
            message=error["msg"].removeprefix("Value error, "),
            code=error["type"],
        )
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


class _Splitter:
    """Cuts a byte stream at row boundaries; what follows the last boundary waits."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now.isoformat()
        self.rows = 0
        self._pending = b""
        self._started = False

    def feed(self, chunk: bytes) -> list[ImportRow]:
        data = self._pending + chunk if self._pending else chunk
        if not self._started:
            if len(data) < len(BOM) and BOM.startswith(data):
                self._pending = data
                return []
            data = data.removeprefix(BOM)
            self._started = True
        cut = self._boundary(data)
        self._pending = data[cut:]
        if len(self._pending) > MAX_RECORD_BYTES:
            raise ImportMalformed(
                f"Row {self.rows + 1} is longer than {MAX_RECORD_BYTES} bytes"
                " (is a quote left open?)."
            )
        return self._parse(data[:cut]) if cut else []

    def finish(self) -> list[ImportRow]:
        data, self._pending = self._pending, b""
        if not self._started:
            data = data.removeprefix(BOM)
        return self._parse(data) if data else []

    def _boundary(self, data: bytes) -> int:
        return data.rfind(b"\n") + 1

    def _parse(self, data: bytes) -> list[ImportRow]:
        raise NotImplementedError


class NdjsonRows(_Splitter):
    """One JSON object per line with the field names of `CustomerCreate`.

    The fields a line names are set, `null` clears, and an address replaces the stored
    one whole, as PATCH does.
    """

    def _parse(self, data: bytes) -> list[ImportRow]:
        rows: list[ImportRow] = []
        for line in data.split(b"\n"):
            line = line.strip()
            if not line:
                continue
            self.rows += 1
            try:
                customer = CustomerCreate.model_validate_json(line)
            except ValidationError as exc:
                rows.append(ImportRow(self.rows, errors=_field_errors(exc, _json_path)))
            else:
                rows.append(self._row(customer))
        return rows

    def _row(self, customer: CustomerCreate) -> ImportRow:
        present = customer.model_fields_set
        if "referred_by" in present:
            message = "cannot be imported; set it one customer at a time"
            return _invalid(self.rows, "referred_by", message, "not_importable")
        fields = customer.__dict__
        values = {name: fields[name] for name in _PLAIN_FIELDS if name in present}
        if "lifecycle_stage" in present:
            values["lifecycle_stage"] = customer.lifecycle_stage._value_
        if "address" in present:
            address = customer.address.__dict__ if customer.address is not None else {}
            for wire, column in ADDRESS_FIELDS.items():
                values[column] = address.get(wire)
        return ImportRow(self.rows, values, customer.tags, _consents(customer, None, self.now))


def _json_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "row"


_VALUE, _TAGS, _CONSENT = range(3)
# Distinct values remembered per column: enough for cities, names, tags and the like.
_MEMO_SIZE = 10_000


def _field_check(info: FieldInfo) -> Callable[[Any], Any]:
    """The validation a `CustomerCreate` (or nested) field applies, for one value."""
    field_type: Any = Annotated[info.annotation, info]
    return TypeAdapter(field_type).validate_python


_CHECKS = {
    **{name: _field_check(CustomerCreate.model_fields[name]) for name in _PLAIN_FIELDS},
    **{column: _field_check(Address.model_fields[wire]) for wire, column in ADDRESS_FIELDS.items()},
}
_CHECK_STAGE = _field_check(CustomerCreate.model_fields["lifecycle_stage"])
_CHECK_TAGS = _field_check(CustomerCreate.model_fields["tags"])
_CHECK_GRANTED = _field_check(ConsentIn.model_fields["granted"])


@dataclass(frozen=True, slots=True)
class _Cell:
    """How one column of the header turns a cell into what the row stores."""

    index: int
    name: str
    kind: int
    convert: Callable[[str], Any]
    seen: dict[str, Any]  # cell text -> converted value, for the values met before


class CsvRows(_Splitter):
    """A header row naming `CSV_COLUMNS` (any subset, any order), then one customer per record.

    An empty cell sets nothing, so re-running a file never clears what another system wrote.
    Each cell is validated by the `CustomerCreate` field it fills (an `Address` field, a
    consent's `granted`), with the row-level rule of `CustomerCreate` after. A column
    repeats few distinct values (cities, names, tags, stages), so each column remembers
    what its values became and validates a value once.
    """

    def __init__(self, now: dt.datetime) -> None:
        super().__init__(now)
        self._cells: list[_Cell] | None = None

    def finish(self) -> list[ImportRow]:
        rows = super().finish()
        if self._cells is None:
            raise ImportHeaderInvalid(
                "The CSV is empty: a header row naming the columns comes first."
            )
        return rows

    def _boundary(self, data: bytes) -> int:
        # A newline ends a record only outside quotes: where the count of quotes before
        # it is even (an escaped quote is a pair, so it keeps the parity).
        end = data.rfind(b"\n")
        quotes = data.count(b'"', 0, end + 1)
        while end >= 0:
            if quotes % 2 == 0:
                return end + 1
            previous = data.rfind(b"\n", 0, end)
            quotes -= data.count(b'"', previous + 1, end + 1)
            end = previous
        return 0

    def _parse(self, data: bytes) -> list[ImportRow]:
        try:
            text = data.decode()
            undecodable = False
        except UnicodeDecodeError:
            text = data.decode(errors="surrogateescape")
            undecodable = True
        records = _records(csv.reader(io.StringIO(text, newline="")))
        rows: list[ImportRow] = []
        if self._cells is None:
            for record in records:
                if isinstance(record, csv.Error) or (
                    undecodable and _UNDECODABLE.search("".join(record))
                ):
                    raise ImportHeaderInvalid("The CSV header row is not valid UTF-8 CSV.")
                if _blank(record):
                    continue
                self._cells = self._header(record)
                break
        cells = self._cells
        if cells is None:
            return rows
        width = len(cells)
        for record in records:
            if isinstance(record, csv.Error):
                self.rows += 1
                rows.append(
                    _invalid(self.rows, "row", f"is not valid CSV: {record}", "csv_invalid")
                )
                continue
            if _blank(record):
                continue
            self.rows += 1
            if len(record) != width:
                message = f"has {len(record)} cells where the header names {width}"
                rows.append(_invalid(self.rows, "row", message, "cell_count"))
            elif undecodable and _UNDECODABLE.search("".join(record)):
                rows.append(self._undecodable(record))
            else:
                rows.append(self._row(cells, record))
        return rows

    def _row(self, cells: list[_Cell], record: list[str]) -> ImportRow:
        values: dict[str, Any] = {}
        tags: Sequence[str] = ()
        consents: dict[str, dict[str, Any]] = {}
        errors: list[FieldError] = []
        for cell in cells:
            text = record[cell.index].strip()
            if not text:
                continue
            value = cell.seen.get(text, _UNSEEN)
            if value is _UNSEEN:
                try:
                    value = cell.convert(text)
                except ValidationError as exc:
                    errors.extend(_field_errors(exc, lambda _, name=cell.name: name))
                    continue
                if len(cell.seen) < _MEMO_SIZE:
                    cell.seen[text] = value
            if cell.kind == _VALUE:
                values[cell.name] = value
            elif cell.kind == _TAGS:
                tags = value
            else:
                consents[CONSENT_COLUMNS[cell.name]] = value
        if errors:
            return ImportRow(self.rows, errors=errors)
        if "external_ref" not in values and "email" not in values:
            return ImportRow(self.rows, errors=_identity_errors())
        return ImportRow(self.rows, values, tags, consents)

    def _undecodable(self, record: list[str]) -> ImportRow:
        errors = [
            FieldError(field=cell.name, message="is not valid UTF-8", code="utf8_invalid")
            for cell in self._cells or ()
            if _UNDECODABLE.search(record[cell.index])
        ]
        return ImportRow(self.rows, errors=errors)

    def _header(self, record: list[str]) -> list[_Cell]:
        names = [name.strip().lower() for name in record]
        unknown = [name for name in names if name not in CSV_COLUMNS]
        if unknown:
            raise ImportHeaderInvalid(
                f"Unknown column(s): {', '.join(repr(name) for name in unknown)}. "
                f"Importable columns: {', '.join(CSV_COLUMNS)}.",
                unknown_columns=unknown,
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ImportHeaderInvalid(f"Column(s) named twice: {', '.join(repeated)}.")
        if "external_ref" not in names and "email" not in names:
            raise ImportHeaderInvalid("The CSV needs an external_ref or an email column.")
        return [_Cell(index, name, *self._conversion(name), {}) for index, name in enumerate(names)]

    def _conversion(self, name: str) -> tuple[int, Callable[[str], Any]]:
        if name == "lifecycle_stage":
            return _VALUE, lambda text: _CHECK_STAGE(text)._value_
        if name == "tags":
            return _TAGS, lambda text: tuple(
                _CHECK_TAGS([tag for tag in text.split("|") if tag.strip()])
            )
        if name in CONSENT_COLUMNS:
            # Every row of an import records its consents at the same moment.
            return _CONSENT, lambda text: {
                "granted": _CHECK_GRANTED(text),
                "source": "import",
                "recorded_at": self.now,
            }
        return _VALUE, _CHECKS[name]


_UNSEEN = object()


def _identity_errors() -> list[FieldError]:
    """What `CustomerCreate` says of a row that names neither external_ref nor email."""
    try:
        CustomerCreate.model_validate({})
    except ValidationError as exc:
        return _field_errors(exc, _json_path)
    raise AssertionError("CustomerCreate accepted a customer without email or external_ref")


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | csv.Error]:
    """The reader's records; a malformed one comes as its error and reading goes on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield exc


def _blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())
