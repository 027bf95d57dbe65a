"""`crm import ...` against the customer and orders services as real processes."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    free_port,
    fresh_postgres_database,
    service_process,
    sqlite_url,
)

pytestmark = pytest.mark.e2e
AUTH = {"X-Service-Token": TEST_SERVICE_TOKEN}
DATA_DIR = os.environ.get("CRM_DATA_DIR")
RETAIL_HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
)


@dataclass
class Run:
    code: int
    output: str
    report: dict[str, Any]

    def stage(self, name: str) -> tuple[int, int, int, int, int]:
        """sent, inserted, duplicates, rejected, resumed."""
        figures = self.report["stages"][name]
        return (
            figures["sent"],
            figures["inserted"],
            figures["duplicates"],
            figures["rejected"],
            figures["resumed"],
        )


@dataclass
class Stack:
    customer_url: str
    orders_url: str
    var: Path

    def crm_import(self, *args: str) -> Run:
        report = self.var.parent / "report.json"
        report.unlink(missing_ok=True)
        done = subprocess.run(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "crm_cli",
                "import",
                *args,
                "--customer-url",
                self.customer_url,
                "--orders-url",
                self.orders_url,
                "--var",
                str(self.var),
                "--report",
                str(report),
            ],
            env={**os.environ, "COLUMNS": "200", "CRM_SERVICE_TOKEN": TEST_SERVICE_TOKEN},
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = done.stdout + done.stderr
        return Run(
            done.returncode, output, json.loads(report.read_text()) if report.exists() else {}
        )

    def feed(self, path: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.orders_url}{path}", headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines() if line]

    def customers(self) -> dict[str, dict[str, Any]]:
        response = httpx.get(f"{self.customer_url}/v1/customers/export", headers=AUTH, timeout=60)
        lines = [json.loads(line) for line in response.text.splitlines() if line]
        return {line["customer"]["external_ref"]: line["customer"] for line in lines}


@pytest.fixture
def stack(
    customer_database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Both services on the backend of the customer database (SQLite or PostgreSQL)."""
    with contextlib.ExitStack() as running:
        if customer_database_url.startswith("sqlite"):
            orders_database_url = sqlite_url(tmp_path, "orders")
        else:
            admin_url = request.getfixturevalue("postgres_admin_url")
            orders_database_url = running.enter_context(
                fresh_postgres_database(admin_url, "crm_e2e_orders")
            )
        customer = running.enter_context(
            service_process(
                "crm_customer",
                "CUSTOMER_",
                database_url=customer_database_url,
                log_dir=tmp_path,
                ready_timeout=120,
            )
        )
        orders = running.enter_context(
            service_process(
                "crm_orders",
                "ORDERS_",
                database_url=orders_database_url,
                log_dir=tmp_path,
                extra_env={"ORDERS_CUSTOMER_URL": customer.url},
                ready_timeout=120,
            )
        )
        yield Stack(customer.url, orders.url, tmp_path / "var")


def write_retail(folder: Path) -> list[Path]:
    first = folder / "retail_part1.csv.gz"
    with gzip.open(first, "wt", newline="") as out:
        out.write(RETAIL_HEADER)
        out.write(
            "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
        )
        out.write(
            "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"
        )
        out.write("536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,,United Kingdom\n")
        out.write("536367,84879,BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047,France\n")
        out.write("536368,85123A,WHITE HANGING HEART,oops,2010-12-01 08:40:00,2.55,13047,France\n")
    second = folder / "retail_part2.csv"
    second.write_text(
        RETAIL_HEADER
        # Returns two of the six hearts 17850 bought the day before.
        + "C536379,85123A,WHITE HANGING HEART,-2,2010-12-02 09:41:00,2.55,17850,United Kingdom\n"
        # Nothing earlier to match: kept as a cancelled order.
        + "C536380,22960,JAM MAKING SET,-1,2010-12-02 09:49:00,4.25,13047,France\n"
        + '536381,85123a,"white heart, lower case",1,2010-12-03 10:00:00,2.60,13047,France\n'
    )
    return [first, second]


def test_online_retail_becomes_orders_refunds_and_cancelled_orders(
    stack: Stack, tmp_path: Path
) -> None:
    files = write_retail(tmp_path)
    run = stack.crm_import("online-retail", *map(str, files))
    assert run.code == 0, run.output
    assert run.report["rows_read"] == 8
    assert run.report["skipped"] == {"no CustomerID": 1}
    assert [bad["where"] for bad in run.report["bad_rows"]] == ["retail_part1.csv.gz:6"]
    assert "retail_part1.csv.gz:6: unreadable value" in run.output
    assert run.stage("orders") == (4, 4, 0, 0, 0)
    assert run.stage("refunds") == (1, 1, 0, 0, 0)

    customers = stack.customers()
    assert sorted(customers) == ["uci-13047", "uci-17850"]
    assert customers["uci-17850"]["address"]["country"] == "GB"
    assert customers["uci-13047"]["address"]["country"] == "FR"
    products = {line["sku"]: line for line in stack.feed("/v1/export/products")}
    assert sorted(products) == ["22960", "71053", "84879", "85123A", "85123a"]
    assert products["85123a"]["name"] == "white heart, lower case"
    assert products["85123A"]["currency"] == "GBP"

    lines = stack.feed("/v1/export/order-lines")
    orders = {line["order_external_ref"] for line in lines}
    assert orders == {"uci-536365", "uci-536367", "uci-536381", "uci-C536380"}
    heart = next(
        line
        for line in lines
        if line["order_external_ref"] == "uci-536365" and line["sku"] == "85123A"
    )
    assert (heart["quantity"], heart["refunded_quantity"], heart["refunded_amount"]) == (
        6,
        2,
        "5.10",
    )
    assert heart["customer_id"] == customers["uci-17850"]["id"]
    assert heart["placed_at"] == "2010-12-01T08:26:00Z"
    cancelled = [line for line in lines if line["order_external_ref"] == "uci-C536380"]
    assert [(line["order_status"], line["sku"], line["quantity"]) for line in cancelled] == [
        ("cancelled", "22960", 1)
    ]
    net = sum(
        Decimal(line["line_total"]) - Decimal(line["refunded_amount"])
        for line in lines
        if line["order_status"] != "cancelled"
    )
    assert net == Decimal("2.55") * 4 + Decimal("3.39") * 6 + Decimal("1.69") * 32 + Decimal("2.60")

    # Run again: every key is known, nothing is stored twice, the refund is not repeated.
    again = stack.crm_import("online-retail", *map(str, files))
    assert again.code == 0, again.output
    assert again.stage("orders") == (4, 0, 4, 0, 0)
    assert again.stage("refunds") == (0, 0, 1, 0, 0)
    assert stack.feed("/v1/export/order-lines") == lines

    resumed = stack.crm_import("online-retail", *map(str, files), "--resume")
    assert resumed.code == 0, resumed.output
    assert resumed.stage("orders") == (0, 0, 0, 0, 4)


def test_cdnow_orders_total_their_rows_exactly(stack: Stack, tmp_path: Path) -> None:
    source = tmp_path / "CDNOW_master.txt"
    source.write_bytes(
        b" customer_id  date number_of_cds  dollar_value\r\n"
        b" 00001 19970101  1   11.77\r\n"
        b" 00002 19970112  3   25.00\r\n"
        b" 00002 19970112  1    0.00\r\n"
        b" 00003 1997x101  1    5.00\r\n"
    )
    run = stack.crm_import("cdnow", str(source))
    assert run.code == 0, run.output
    assert [bad["where"] for bad in run.report["bad_rows"]] == ["CDNOW_master.txt:5"]
    lines = stack.feed("/v1/export/order-lines")
    totals = {line["order_external_ref"]: line["line_total"] for line in lines}
    assert totals == {
        "cdnow-00001-19970101-1": "11.77",
        "cdnow-00002-19970112-1": "25.00",
        "cdnow-00002-19970112-2": "0.00",
    }
    three = next(line for line in lines if line["quantity"] == 3)
    assert (three["unit_price"], three["discount"], three["currency"]) == ("8.34", "0.02", "USD")
    assert {line["sku"] for line in lines} == {"cdnow-cd"}
    assert sorted(stack.customers()) == ["cdnow-00001", "cdnow-00002"]


def test_movielens_ratings_become_interactions(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    flags = "|".join(["0"] * 19)
    comedy = "|".join(["0"] * 5 + ["1"] + ["0"] * 13)
    (folder / "u.item").write_bytes(
        f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy|{comedy}\n"
        f"2|Amélie (2001)|01-Jan-2001|||{flags}\n".encode("latin-1")
    )
    (folder / "u.user").write_text("196|49|M|writer|55105\n186|39|F|executive|00000\n")
    (folder / "u.data").write_text(
        "196\t1\t3\t881250949\n186\t2\t5\t891717742\n186\t9\t4\t891717742\n196\t2\t6\t881250949\n"
    )
    run = stack.crm_import("movielens", str(folder))
    assert run.code == 0, run.output
    assert [bad["where"] for bad in run.report["bad_rows"]] == ["u.data:3", "u.data:4"]
    customers = stack.customers()
    assert customers["ml-196"]["tags"] == ["occupation:writer"]
    products = {line["sku"]: line for line in stack.feed("/v1/export/products")}
    assert products["ml-movie-1"]["category_path"] == "movies/comedy"
    assert products["ml-movie-2"]["name"] == "Amélie (2001)"
    ratings = stack.feed("/v1/export/interactions")
    assert [(r["event_id"], r["kind"], r["rating"]) for r in ratings] == [
        ("ml-196-1", "rating", 3),
        ("ml-186-2", "rating", 5),
    ]
    assert ratings[0]["customer_id"] == customers["ml-196"]["id"]
    assert ratings[0]["product_id"] == products["ml-movie-1"]["id"]
    assert ratings[0]["occurred_at"] == "1997-12-04T15:55:49Z"

    again = stack.crm_import("movielens", str(folder))
    assert again.code == 0, again.output
    assert again.stage("interactions") == (2, 0, 2, 0, 0)
    assert stack.feed("/v1/export/interactions") == ratings


def test_the_wrong_file_or_a_stopped_stack_is_said_plainly(tmp_path: Path) -> None:
    stopped = Stack(f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}", tmp_path)
    not_retail = tmp_path / "orders.csv"
    not_retail.write_text("order,amount\n1,2\n")
    wrong = stopped.crm_import("online-retail", str(not_retail))
    assert wrong.code == 2
    assert "is not the UCI Online Retail CSV" in wrong.output
    source = tmp_path / "cdnow.txt"
    source.write_text(" 00001 19970101  1   11.77\n")
    down = stopped.crm_import("cdnow", str(source))
    assert down.code == 1
    assert "does not answer" in down.output


@pytest.mark.skipif(not DATA_DIR, reason="CRM_DATA_DIR (the shared public datasets) is not set")
def test_the_real_cdnow_sample_arrives_to_the_cent(stack: Stack) -> None:
    run = stack.crm_import("cdnow", "cdnow/CDNOW_sample.txt")
    assert run.code == 0, run.output
    assert run.stage("orders") == (6919, 6919, 0, 0, 0)
    lines = stack.feed("/v1/export/order-lines")
    # The figures SOURCE.md gives for the sample.
    assert len(lines) == 6919
    assert len({line["customer_id"] for line in lines}) == 2357
    assert sum(Decimal(line["line_total"]) for line in lines) == Decimal("244091.94")
    assert sum(line["quantity"] for line in lines) == 16479
