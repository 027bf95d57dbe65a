"""Readers of the public datasets `crm import` loads, turned into what the APIs take.

Each reader returns a `Dataset`: customers, products, orders, refunds and interactions as
the payloads of the bulk endpoints, with customers named by their `external_ref` (the
importer swaps in the ids the customer service gives them). Readers never stop at a bad
row: they count it and say where it is. Every key is derived from the data (`uci-17850`,
`uci-536365`, `ml-196-242`), so importing a file twice stores nothing twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

MAX_ORDER_LINES = 500
ONLINE_RETAIL_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
CDNOW_SKU = "cdnow-cd"
CENT = Decimal("0.01")
# The UCI data names countries; ISO 3166 codes for those that are one country.
RETAIL_COUNTRIES = {
    "Australia": "AU",
    "Austria": "AT",
    "Bahrain": "BH",
    "Belgium": "BE",
    "Brazil": "BR",
    "Canada": "CA",
    "Cyprus": "CY",
    "Czech Republic": "CZ",
    "Denmark": "DK",
    "EIRE": "IE",
    "Finland": "FI",
    "France": "FR",
    "Germany": "DE",
    "Greece": "GR",
    "Hong Kong": "HK",
    "Iceland": "IS",
    "Israel": "IL",
    "Italy": "IT",
    "Japan": "JP",
    "Lebanon": "LB",
    "Lithuania": "LT",
    "Malta": "MT",
    "Netherlands": "NL",
    "Norway": "NO",
    "Poland": "PL",
    "Portugal": "PT",
    "RSA": "ZA",
    "Saudi Arabia": "SA",
    "Singapore": "SG",
    "Spain": "ES",
    "Sweden": "SE",
    "Switzerland": "CH",
    "USA": "US",
    "United Arab Emirates": "AE",
    "United Kingdom": "GB",
}
MOVIELENS_GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy "
    "Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DatasetError(Exception):
    """The files are not the dataset they were named as: nothing can be read from them."""


@dataclass(frozen=True)
class BadRow:
    where: str  # file:line
    reason: str


@dataclass
class RefundPlan:
    """Units of earlier purchase lines that a cancellation invoice returned."""

    key: str  # the cancellation invoice
    order_ref: str
    lines: list[tuple[int, int]]  # (line_number, quantity)


@dataclass
class Dataset:
    name: str
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[RefundPlan] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    bad_rows: list[BadRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def bad(self, where: str, reason: str) -> None:
        self.bad_rows.append(BadRow(where, reason))


def _text_lines(path: Path, encoding: str = "utf-8") -> io.TextIOWrapper:
    """The file as text, gunzipped when it is gzip (by its magic bytes, not its name)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    # The caller closes the wrapper, which closes the file.
    raw: Any = gzip.open(path, "rb") if gzipped else path.open("rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _one_line(value: str, limit: int) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


# --- UCI Online Retail ---------------------------------------------------------------


@dataclass
class _RetailRow:
    where: str
    invoice: str
    sku: str
    description: str
    quantity: int
    placed_at: dt.datetime
    price: Decimal
    customer: str
    country: str


@dataclass
class _Purchase:
    order_ref: str
    line_number: int
    placed_at: dt.datetime
    remaining: int


def _retail_time(value: str) -> dt.datetime:
    # Wall-clock time of the shop, kept as UTC as the data set's own notes say.
    value = value.strip()
    try:
        moment = dt.datetime.fromisoformat(value)  # 2010-12-01 08:26:00
    except ValueError:
        # The spreadsheet export's layout: 12/1/2010 8:26.
        try:
            moment = dt.datetime.strptime(value, "%m/%d/%Y %H:%M").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(f"InvoiceDate {value!r} is not a date and time") from None
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC)
    return moment.replace(tzinfo=dt.UTC)


def _retail_rows(paths: list[Path], dataset: Dataset) -> Iterator[_RetailRow]:
    for path in paths:
        name = path.name
        try:
            with _text_lines(path) as text:
                reader = csv.reader(text)
                header = [cell.strip() for cell in next(reader, [])]
                missing = set(ONLINE_RETAIL_COLUMNS) - set(header)
                if missing:
                    raise DatasetError(
                        f"{path} is not the UCI Online Retail CSV: no column(s) "
                        f"{', '.join(sorted(missing))}"
                    )
                at = [header.index(column) for column in ONLINE_RETAIL_COLUMNS]
                width = max(at) + 1
                for record in reader:
                    if not record:
                        continue
                    dataset.rows_read += 1
                    where = f"{name}:{reader.line_num}"
                    if len(record) < width:
                        dataset.bad(where, f"{len(record)} cells where the header names more")
                        continue
                    row = _retail_row(where, [record[index] for index in at], dataset)
                    if row is not None:
                        yield row
        except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
            raise DatasetError(f"{path}: {exc}") from exc


def _retail_row(where: str, cells: list[str], dataset: Dataset) -> _RetailRow | None:
    invoice, sku, description, quantity_text, date, price_text, customer, country = cells
    customer = customer.strip()
    if not customer:
        dataset.skipped["no CustomerID"] += 1
        return None
    try:
        quantity = int(quantity_text)
        price = Decimal(price_text.strip())
        placed_at = _retail_time(date)
        # Some exports write the id as a float: 17850.0.
        customer_number = int(Decimal(customer))
    except (ValueError, InvalidOperation) as exc:
        dataset.bad(where, f"unreadable value: {exc}")
        return None
    invoice, sku = invoice.strip(), sku.strip()
    if not invoice or not sku or len(sku) > 64 or _CONTROL.search(sku):
        dataset.bad(where, "no InvoiceNo, or no usable StockCode")
        return None
    if not price.is_finite() or price < 0:
        dataset.bad(where, f"UnitPrice {price_text} is negative")
        return None
    cancellation = invoice.startswith("C")
    if quantity == 0 or (quantity < 0) != cancellation:
        kind = "cancellation" if cancellation else "sale"
        dataset.bad(where, f"Quantity {quantity} in a {kind} invoice")
        return None
    return _RetailRow(
        where,
        invoice,
        sku,
        _one_line(description, 200),
        abs(quantity),
        placed_at,
        price,
        str(customer_number),
        country.strip(),
    )


def read_online_retail(paths: list[Path]) -> Dataset:
    """UCI Online Retail: invoices become orders, 'C' invoices refunds or cancelled orders.

    A cancellation refunds the units of the same stock code that the same customer bought
    before it, latest purchase first, as far as those purchases are in the data; units it
    cannot match (bought before the data begins) are kept as a cancelled order, which
    counts in no revenue. Rows without a CustomerID are skipped and counted.
    """
    dataset = Dataset("online-retail")
    invoices: dict[str, list[_RetailRow]] = {}
    for row in _retail_rows(paths, dataset):
        invoices.setdefault(row.invoice, []).append(row)
        ref = f"uci-{row.customer}"
        if ref not in dataset.customers:
            customer: dict[str, Any] = {"external_ref": ref}
            if country := RETAIL_COUNTRIES.get(row.country):
                customer["address"] = {"country": country}
            dataset.customers[ref] = customer
        product = dataset.products.setdefault(
            row.sku, {"sku": row.sku, "name": row.description or row.sku, "currency": "GBP"}
        )
        if not row.invoice.startswith("C"):
            # The catalogue price is the latest price the product sold at.
            product["price"] = str(row.price)
        elif "price" not in product:
            product["price"] = str(row.price)
        if product["name"] == row.sku and row.description:
            product["name"] = row.description
    purchases: dict[tuple[str, str], list[_Purchase]] = defaultdict(list)
    ordered = sorted(invoices.items(), key=lambda item: item[1][0].placed_at)
    for invoice, rows in ordered:
        rows = _one_customer(rows, dataset)
        if invoice.startswith("C"):
            _cancel(invoice, rows, purchases, dataset)
        else:
            _sell(invoice, rows, purchases, dataset)
    return dataset


def _one_customer(rows: list[_RetailRow], dataset: Dataset) -> list[_RetailRow]:
    customer = rows[0].customer
    for row in rows:
        if row.customer != customer:
            dataset.bad(row.where, f"invoice {row.invoice} also names customer {customer}")
    return [row for row in rows if row.customer == customer]


def _order(
    ref: str, rows: list[_RetailRow], status: str, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "external_ref": ref,
        "customer_ref": f"uci-{rows[0].customer}",
        "channel": "web",
        "currency": "GBP",
        "placed_at": _iso(rows[0].placed_at),
        "status": status,
        "lines": lines,
    }


def _parts(invoice: str, count: int) -> Iterator[tuple[str, int]]:
    """External refs of an invoice's orders: one per 500 lines (few invoices have more)."""
    for part, start in enumerate(range(0, count, MAX_ORDER_LINES), start=1):
        yield (f"uci-{invoice}" if part == 1 else f"uci-{invoice}-{part}"), start


def _sell(
    invoice: str,
    rows: list[_RetailRow],
    purchases: dict[tuple[str, str], list[_Purchase]],
    dataset: Dataset,
) -> None:
    for ref, start in _parts(invoice, len(rows)):
        part = rows[start : start + MAX_ORDER_LINES]
        lines = []
        for number, row in enumerate(part, start=1):
            lines.append({"sku": row.sku, "quantity": row.quantity, "unit_price": str(row.price)})
            key = (row.customer, row.sku)
            purchases[key].append(_Purchase(ref, number, row.placed_at, row.quantity))
        dataset.orders.append(_order(ref, part, "delivered", lines))


def _cancel(
    invoice: str,
    rows: list[_RetailRow],
    purchases: dict[tuple[str, str], list[_Purchase]],
    dataset: Dataset,
) -> None:
    refunds: dict[str, list[tuple[int, int]]] = {}
    unmatched: list[tuple[_RetailRow, int]] = []
    for row in rows:
        wanted = row.quantity
        for purchase in reversed(purchases.get((row.customer, row.sku), [])):
            if wanted == 0:
                break
            if purchase.placed_at > row.placed_at or purchase.remaining == 0:
                continue
            taken = min(wanted, purchase.remaining)
            purchase.remaining -= taken
            wanted -= taken
            refunds.setdefault(purchase.order_ref, []).append((purchase.line_number, taken))
        if wanted:
            unmatched.append((row, wanted))
    for order_ref, returned in refunds.items():
        merged: dict[int, int] = defaultdict(int)
        for line_number, quantity in returned:
            merged[line_number] += quantity
        dataset.refunds.append(RefundPlan(invoice, order_ref, sorted(merged.items())))
    for ref, start in _parts(invoice, len(unmatched)):
        part = unmatched[start : start + MAX_ORDER_LINES]
        lines = [
            {"sku": row.sku, "quantity": quantity, "unit_price": str(row.price)}
            for row, quantity in part
        ]
        dataset.orders.append(_order(ref, [row for row, _ in part], "cancelled", lines))


# --- CDNOW ---------------------------------------------------------------------------


def read_cdnow(path: Path) -> Dataset:
    """CDNOW (Fader & Hardie): one order per row, of the synthetic product `cdnow-cd`.

    The master file has 4 columns (customer, date, CDs, dollars), the sample 5 (master id,
    sample id, date, CDs, dollars): the master id names the customer either way. A row's
    unit price is its dollars per CD rounded up to the cent, less a discount of the cents
    that rounding added, so every order totals exactly the row's dollars.
    """
    dataset = Dataset("cdnow")
    seen: Counter[tuple[str, str]] = Counter()
    cds = 0
    dollars = Decimal(0)
    try:
        with _text_lines(path) as text:
            for number, line in enumerate(text, start=1):
                cells = line.split()
                if not cells or (number == 1 and not cells[0].isdigit()):
                    continue
                dataset.rows_read += 1
                where = f"{path.name}:{number}"
                if len(cells) not in (4, 5):
                    dataset.bad(where, f"{len(cells)} columns where CDNOW has 4 or 5")
                    continue
                customer, date, quantity_text, amount_text = cells[0], *cells[-3:]
                try:
                    placed_at = dt.datetime.strptime(date, "%Y%m%d").replace(tzinfo=dt.UTC)
                    quantity = int(quantity_text)
                    amount = Decimal(amount_text)
                except (ValueError, InvalidOperation):
                    dataset.bad(where, "unreadable date, quantity or amount")
                    continue
                if not customer.isdigit() or quantity <= 0 or not amount.is_finite() or amount < 0:
                    dataset.bad(where, "the customer, quantity or amount is out of range")
                    continue
                seen[customer, date] += 1
                ref = f"cdnow-{customer}"
                dataset.customers.setdefault(ref, {"external_ref": ref})
                dataset.orders.append(
                    _cdnow_order(ref, date, seen[customer, date], placed_at, quantity, amount)
                )
                cds += quantity
                dollars += amount
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    average = (dollars / cds).quantize(CENT) if cds else Decimal("0.00")
    dataset.products[CDNOW_SKU] = {
        "sku": CDNOW_SKU,
        "name": "CD (CDNOW)",
        "category_path": "music/cds",
        "price": str(average),
        "currency": "USD",
    }
    return dataset


def _cdnow_order(
    customer_ref: str,
    date: str,
    occurrence: int,
    placed_at: dt.datetime,
    quantity: int,
    amount: Decimal,
) -> dict[str, Any]:
    unit_price = (amount / quantity).quantize(CENT, rounding=ROUND_CEILING)
    discount = unit_price * quantity - amount
    return {
        # The n-th order of the customer that day, as in the file: the master and the
        # sample hold the same rows for the same customers in the same order.
        "external_ref": f"{customer_ref}-{date}-{occurrence}",
        "customer_ref": customer_ref,
        "channel": "web",
        "currency": "USD",
        "placed_at": _iso(placed_at),
        "status": "delivered",
        "lines": [
            {
                "sku": CDNOW_SKU,
                "quantity": quantity,
                "unit_price": str(unit_price),
                "discount": str(discount),
            }
        ],
    }


# --- MovieLens -----------------------------------------------------------------------


def read_movielens(directory: Path) -> Dataset:
    """MovieLens 100k: movies as products (genres as the category), users as customers,
    ratings as `rating` interactions at their timestamps."""
    dataset = Dataset("movielens")
    items, data = directory / "u.item", directory / "u.data"
    if not items.is_file() or not data.is_file():
        raise DatasetError(f"{directory} has no u.item and u.data: not MovieLens 100k")
    genres = _movielens_genres(directory / "u.genre")
    try:
        _movies(items, genres, dataset)
        if (directory / "u.user").is_file():
            _users(directory / "u.user", dataset)
        else:
            dataset.notes.append("no u.user: customers carry no occupation or postcode")
        _ratings(data, dataset)
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(str(exc)) from exc
    return dataset


def _movielens_genres(path: Path) -> list[str]:
    if not path.is_file():
        return list(MOVIELENS_GENRES)
    named: dict[int, str] = {}
    with _text_lines(path, "latin-1") as text:
        for line in text:
            name, _, index = line.strip().partition("|")
            if name and index.isdigit():
                named[int(index)] = name
    return [named[index] for index in sorted(named)] or list(MOVIELENS_GENRES)


def _movies(path: Path, genres: list[str], dataset: Dataset) -> None:
    # u.item is latin-1, as GroupLens wrote it.
    with _text_lines(path, "latin-1") as text:
        for number, line in enumerate(text, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            dataset.rows_read += 1
            cells = line.split("|")
            if len(cells) < 5 + len(genres) or not cells[0].isdigit():
                dataset.bad(f"{path.name}:{number}", "not a movie line (id|title|...|genres)")
                continue
            movie, title, released, _video, imdb = cells[:5]
            flags = cells[5 : 5 + len(genres)]
            its_genres = [genre for genre, flag in zip(genres, flags, strict=True) if flag == "1"]
            attributes: dict[str, Any] = {"movielens_id": int(movie), "genres": its_genres}
            if released:
                attributes["release_date"] = released
            if imdb:
                attributes["imdb_url"] = imdb[:500]
            name = _one_line(title, 200)
            sku = f"ml-movie-{int(movie)}"
            dataset.products[sku] = {
                "sku": sku,
                "name": name if name and name != "unknown" else f"Movie {int(movie)}",
                "category_path": "movies/" + (its_genres[0] if its_genres else "unknown"),
                "price": "0.00",
                "currency": "USD",
                "attributes": attributes,
            }


def _users(path: Path, dataset: Dataset) -> None:
    with _text_lines(path, "latin-1") as text:
        for number, line in enumerate(text, start=1):
            cells = line.strip().split("|")
            if cells == [""]:
                continue
            dataset.rows_read += 1
            if len(cells) != 5 or not cells[0].isdigit():
                dataset.bad(f"{path.name}:{number}", "not a user line (id|age|gender|job|zip)")
                continue
            user, _age, _gender, occupation, postcode = cells
            ref = f"ml-{int(user)}"
            customer: dict[str, Any] = {"external_ref": ref}
            tag = f"occupation:{occupation.strip().lower()}"
            if re.fullmatch(r"[a-z0-9][a-z0-9 _:.\-]{0,63}", tag):
                customer["tags"] = [tag]
            if postcode.strip():
                customer["address"] = {"postal_code": postcode.strip()[:20]}
            dataset.customers[ref] = customer


def _ratings(path: Path, dataset: Dataset) -> None:
    with _text_lines(path, "latin-1") as text:
        for number, line in enumerate(text, start=1):
            cells = line.split()
            if not cells:
                continue
            dataset.rows_read += 1
            where = f"{path.name}:{number}"
            try:
                user, movie, rating, stamp = (int(cell) for cell in cells)
            except ValueError:
                dataset.bad(where, "not user, item, rating and timestamp")
                continue
            sku = f"ml-movie-{movie}"
            if not 1 <= rating <= 5:
                dataset.bad(where, f"rating {rating} is not 1 to 5")
                continue
            if sku not in dataset.products:
                dataset.bad(where, f"movie {movie} is not in u.item")
                continue
            ref = f"ml-{user}"
            dataset.customers.setdefault(ref, {"external_ref": ref})
            occurred_at = dt.datetime.fromtimestamp(stamp, dt.UTC)
            dataset.interactions.append(
                {
                    "event_id": f"ml-{user}-{movie}",
                    "kind": "rating",
                    "customer_ref": ref,
                    "sku": sku,
                    "rating": rating,
                    "occurred_at": _iso(occurred_at),
                }
            )
