"""`crm import ...`: public datasets loaded into a running stack through its HTTP APIs.

Customers go to the customer service's bulk import, then their ids are read back from its
export feed; products, orders, refunds and interactions go to the orders service. Every
key comes from the data (`uci-17850`, `cdnow-00001-19970101-1`, `ml-196-242`), so an
import run twice stores nothing twice; `--resume` also skips the batches a previous run
finished (kept in a small state file under var/imports/).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crm_cli import datasets
from crm_cli.datasets import Dataset, DatasetError, RefundPlan
from crm_cli.stack import SERVICES, Service
from crm_shared.middleware import SERVICE_TOKEN_HEADER

app = typer.Typer(
    help="Load a public dataset into the running stack, through its HTTP APIs.",
    no_args_is_help=True,
)
console = Console()

CUSTOMER_BATCH = 5000
PRODUCT_BATCH = 2000
ORDER_BATCH = 1000
INTERACTION_BATCH = 20_000
RETRIES = 4
SHOWN_PROBLEMS = 20
NDJSON = "application/x-ndjson"


class ImportFailed(Exception):
    """A service cannot take the import; what is stored so far stays, a rerun continues."""


def _service_url(name: str, module: str, port: int, env_prefix: str) -> str:
    known = {service.name: service for service in SERVICES}
    return known.get(name, Service(name, module, port, env_prefix)).url


@dataclass
class StageReport:
    """What one stage sent and what the service made of it."""

    name: str
    sent: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    resumed: int = 0  # rows of batches a previous run finished

    def add(self, report: dict[str, Any]) -> None:
        self.sent += report.get("received", 0)
        self.inserted += report.get("inserted", 0)
        self.updated += report.get("updated", 0)
        self.duplicates += report.get("duplicates", 0)
        self.rejected += report.get("rejected", 0)


@dataclass
class Outcome:
    stages: list[StageReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # rows the services refused, and why
    problem_count: int = 0

    def stage(self, name: str) -> StageReport:
        report = StageReport(name)
        self.stages.append(report)
        return report

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < 1000:
            self.problems.append(text)


class ImportState:
    """Batches each stage finished, by dataset files and target stack, under var/imports/."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.batches: dict[str, int] = {}
        if resume and path.exists():
            self.batches = json.loads(path.read_text()).get("batches", {})

    def done(self, stage: str) -> int:
        return self.batches.get(stage, 0)

    def finished(self, stage: str, batch: int) -> None:
        self.batches[stage] = batch + 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"batches": self.batches}, indent=1))


def state_path(var: Path, dataset: str, sources: Sequence[Path], urls: Sequence[str]) -> Path:
    digest = hashlib.sha256()
    for source in sorted(sources):
        stat = source.stat()
        digest.update(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    digest.update("|".join(urls).encode())
    return var / "imports" / f"{dataset}-{digest.hexdigest()[:12]}.json"


class Services:
    """The calls an import makes, retried when the failure leaves nothing half done.

    Every call is safe to repeat: imports upsert by key or skip known keys, and refunds
    are checked against the lines' refunded quantities first.
    """

    def __init__(self, customer_url: str, orders_url: str, token: str) -> None:
        headers = {SERVICE_TOKEN_HEADER: token}
        timeout = httpx.Timeout(600, connect=5)
        self.customer = httpx.Client(base_url=customer_url, headers=headers, timeout=timeout)
        self.orders = httpx.Client(base_url=orders_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.customer.close()
        self.orders.close()

    def check(self) -> None:
        for name, client in (("customer", self.customer), ("orders", self.orders)):
            try:
                ready = client.get("/ready")
            except httpx.TransportError as exc:
                raise ImportFailed(
                    f"The {name} service at {client.base_url} does not answer ({exc}). "
                    "Start the stack (crm run) or pass --customer-url / --orders-url."
                ) from exc
            if ready.status_code != 200:
                raise ImportFailed(f"The {name} service is not ready: {ready.text[:300]}")

    def call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(RETRIES + 1):
            try:
                response = client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == RETRIES:
                    raise ImportFailed(f"{method} {path}: {exc}") from exc
            else:
                if response.status_code == 401:
                    raise ImportFailed(
                        "The service token was refused: pass the stack's token with --token "
                        "(crm run keeps it in var/service-token)."
                    )
                if response.status_code not in (502, 503, 504) or attempt == RETRIES:
                    return response
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def post_rows(
        self,
        client: httpx.Client,
        path: str,
        rows: Sequence[dict[str, Any]],
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body = b"".join(orjson.dumps(row) + b"\n" for row in rows)
        response = self.call(
            client, "POST", path, content=body, params=params, headers={"content-type": NDJSON}
        )
        if response.status_code != 200:
            raise ImportFailed(f"POST {path}: {response.status_code} {response.text[:500]}")
        report: dict[str, Any] = response.json()
        return report

    def feed(self, client: httpx.Client, path: str) -> Iterator[dict[str, Any]]:
        """Every line of an export feed, from its start."""
        try:
            with client.stream("GET", path) as response:
                if response.status_code != 200:
                    response.read()
                    raise ImportFailed(f"GET {path}: {response.status_code} {response.text[:300]}")
                for line in response.iter_lines():
                    if line:
                        yield orjson.loads(line)
        except httpx.TransportError as exc:
            raise ImportFailed(f"GET {path}: {exc}") from exc


def _batches(rows: Sequence[Any], size: int) -> Iterator[tuple[int, Sequence[Any]]]:
    for number, start in enumerate(range(0, len(rows), size)):
        yield number, rows[start : start + size]


class Importer:
    def __init__(
        self, dataset: Dataset, services: Services, state: ImportState, progress: Progress
    ) -> None:
        self.dataset = dataset
        self.services = services
        self.state = state
        self.progress = progress
        self.outcome = Outcome()
        self.customer_ids: dict[str, str] = {}

    def run(self) -> Outcome:
        dataset = self.dataset
        self._bulk(
            "customers",
            list(dataset.customers.values()),
            CUSTOMER_BATCH,
            lambda rows: self.services.post_rows(
                self.services.customer, "/v1/customers/import", rows, {"on_error": "skip"}
            ),
            key="external_ref",
        )
        self._read_customer_ids()
        self._bulk(
            "products",
            list(dataset.products.values()),
            PRODUCT_BATCH,
            lambda rows: self.services.post_rows(
                self.services.orders, "/v1/products/import", rows, {"on_error": "skip"}
            ),
            key="sku",
        )
        if dataset.orders:
            self._bulk(
                "orders",
                self._with_customer_ids(dataset.orders, "order", "external_ref"),
                ORDER_BATCH,
                lambda rows: self.services.post_rows(
                    self.services.orders, "/v1/orders/import", rows, {"on_error": "skip"}
                ),
                key="external_ref",
            )
        if dataset.refunds:
            self._refunds(dataset.refunds)
        if dataset.interactions:
            self._bulk(
                "interactions",
                self._with_customer_ids(dataset.interactions, "interaction", "event_id"),
                INTERACTION_BATCH,
                lambda rows: self.services.post_rows(
                    self.services.orders, "/v1/interactions/batch", rows
                ),
                key="event_id",
            )
        return self.outcome

    def _bulk(
        self,
        name: str,
        rows: Sequence[dict[str, Any]],
        size: int,
        send: Callable[[Sequence[dict[str, Any]]], dict[str, Any]],
        key: str,
    ) -> None:
        stage = self.outcome.stage(name)
        task = self.progress.add_task(name, total=len(rows))
        skip = self.state.done(name)
        for number, batch in _batches(rows, size):
            if number < skip:
                stage.resumed += len(batch)
            else:
                report = send(batch)
                stage.add(report)
                for error in report.get("errors", []):
                    row = batch[error["row"] - 1]
                    reasons = "; ".join(f"{e['field']}: {e['message']}" for e in error["errors"])
                    self.outcome.problem(f"{name} {row.get(key)}: {reasons}")
                self.state.finished(name, number)
            self.progress.advance(task, len(batch))

    def _read_customer_ids(self) -> None:
        wanted = self.dataset.customers
        task = self.progress.add_task("customer ids", total=len(wanted))
        for change in self.services.feed(self.services.customer, "/v1/customers/export"):
            customer = change.get("customer")
            if change.get("change") != "upsert" or customer is None:
                continue
            ref = customer.get("external_ref")
            if ref in wanted and ref not in self.customer_ids:
                self.customer_ids[ref] = customer["id"]
                self.progress.advance(task)

    def _with_customer_ids(
        self, rows: list[dict[str, Any]], kind: str, key: str
    ) -> list[dict[str, Any]]:
        """The rows with the customer's id in place of its ref; a row whose `customer_ref`
        is None (a visitor's interaction) goes as it is."""
        ready = []
        for row in rows:
            if row.get("customer_ref", "") is None:
                ready.append({name: value for name, value in row.items() if name != "customer_ref"})
                continue
            customer_id = self.customer_ids.get(row["customer_ref"])
            if customer_id is None:
                self.outcome.problem(
                    f"{kind} {row[key]}: customer {row['customer_ref']} is not in the "
                    "customer service"
                )
                continue
            payload = {name: value for name, value in row.items() if name != "customer_ref"}
            payload["customer_id"] = customer_id
            ready.append(payload)
        return ready

    def _refunds(self, plans: list[RefundPlan]) -> None:
        """Refund what each cancellation returned, as far as the lines do not show it yet.

        Plans apply in order; a line's refunds so far are compared with what the plans up
        to this one returned from it, so a rerun refunds nothing twice.
        """
        stage = self.outcome.stage("refunds")
        wanted = {plan.order_ref for plan in plans}
        lines: dict[tuple[str, int], dict[str, Any]] = {}
        for change in self.services.feed(self.services.orders, "/v1/export/order-lines"):
            if change["order_external_ref"] in wanted:
                lines[change["order_external_ref"], change["line_number"]] = change
        returned: dict[tuple[str, int], int] = {}
        task = self.progress.add_task("refunds", total=len(plans))
        skip = self.state.done("refunds")
        for number, plan in enumerate(plans):
            entries = []
            for line_number, quantity in plan.lines:
                key = (plan.order_ref, line_number)
                returned[key] = returned.get(key, 0) + quantity
                stored = lines.get(key)
                if stored is not None:
                    missing = min(quantity, returned[key] - stored["refunded_quantity"])
                    if missing > 0:
                        entries.append({"order_line_id": stored["line_id"], "quantity": missing})
            first = lines.get((plan.order_ref, plan.lines[0][0]))
            if number < skip:
                stage.resumed += 1
            elif first is None:
                stage.rejected += 1
                self.outcome.problem(f"refund {plan.key}: order {plan.order_ref} is not stored")
            elif not entries:
                stage.duplicates += 1
            else:
                stage.sent += 1
                self._refund(stage, plan, first, entries)
            if number >= skip:
                self.state.finished("refunds", number)
            self.progress.advance(task)

    def _refund(
        self,
        stage: StageReport,
        plan: RefundPlan,
        line: dict[str, Any],
        entries: list[dict[str, Any]],
    ) -> None:
        body = {"lines": entries, "reason": f"cancellation {plan.key}"}
        response = self.services.call(
            self.services.orders, "POST", f"/v1/orders/{line['order_id']}/refunds", json=body
        )
        if response.status_code == 201:
            stage.inserted += 1
        elif response.status_code in (404, 409, 422):
            stage.rejected += 1
            detail = response.json().get("detail", response.text[:200])
            self.outcome.problem(f"refund {plan.key} of {plan.order_ref}: {detail}")
        else:
            raise ImportFailed(f"refund {plan.key}: {response.status_code} {response.text[:300]}")


def _show(dataset: Dataset, outcome: Outcome, seconds: float, bad_rows_file: Path | None) -> None:
    table = Table(title=f"crm import {dataset.name}", title_justify="left")
    for column in ("stage", "sent", "inserted", "updated", "duplicates", "rejected", "resumed"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in outcome.stages:
        table.add_row(
            stage.name,
            *(
                f"{value:,}"
                for value in (
                    stage.sent,
                    stage.inserted,
                    stage.updated,
                    stage.duplicates,
                    stage.rejected,
                    stage.resumed,
                )
            ),
        )
    console.print(table)
    console.print(f"rows read      {dataset.rows_read:,}")
    skipped = sum(dataset.skipped.values())
    reasons = ", ".join(f"{reason}: {count:,}" for reason, count in dataset.skipped.items())
    console.print(f"rows skipped   {skipped:,}" + (f" ({reasons})" if reasons else ""))
    console.print(f"bad rows       {len(dataset.bad_rows):,}")
    for bad in dataset.bad_rows[:SHOWN_PROBLEMS]:
        console.print(f"  {bad.where}: {bad.reason}", highlight=False)
    if bad_rows_file is not None:
        console.print(f"  all of them in {bad_rows_file}")
    console.print(f"refused        {outcome.problem_count:,}")
    for problem in outcome.problems[:SHOWN_PROBLEMS]:
        console.print(f"  {problem}", highlight=False)
    for note in dataset.notes:
        console.print(f"note: {note}")
    console.print(f"done in {seconds:.1f} s")


def _locate(path: Path) -> Path:
    """The path as given, or under CRM_DATA_DIR (where the shared datasets live)."""
    if path.exists():
        return path
    data_dir = os.environ.get("CRM_DATA_DIR")
    if data_dir and (Path(data_dir) / path).exists():
        return Path(data_dir) / path
    raise typer.BadParameter(f"{path} does not exist (nor under CRM_DATA_DIR)")


def _token(token: str | None, var: Path) -> str:
    if token:
        return token
    path = var / "service-token"
    if not path.exists():
        raise typer.BadParameter(
            f"no {path}: start the stack with `crm run`, or pass --token", param_hint="--token"
        )
    return path.read_text().strip()


@dataclass(frozen=True)
class Target:
    customer_url: str
    orders_url: str
    token: str
    var: Path
    resume: bool
    report: Path | None


def _load(name: str, sources: list[Path], read: Callable[[], Dataset], target: Target) -> None:
    started = time.perf_counter()
    try:
        with console.status(f"Reading {name}..."):
            dataset = read()
    except DatasetError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    state = ImportState(
        state_path(target.var, name, sources, [target.customer_url, target.orders_url]),
        target.resume,
    )
    services = Services(target.customer_url, target.orders_url, target.token)
    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        services.check()
        with Progress(*columns, console=console) as progress:
            outcome = Importer(dataset, services, state, progress).run()
    except ImportFailed as exc:
        console.print(f"[red]Import stopped: {exc}[/red]")
        console.print("What was stored stays; run the same command with --resume to go on.")
        raise typer.Exit(1) from exc
    finally:
        services.close()
    bad_rows_file = None
    if dataset.bad_rows:
        bad_rows_file = state.path.with_suffix(".bad-rows.txt")
        bad_rows_file.parent.mkdir(parents=True, exist_ok=True)
        bad_rows_file.write_text("".join(f"{b.where}\t{b.reason}\n" for b in dataset.bad_rows))
    seconds = time.perf_counter() - started
    _show(dataset, outcome, seconds, bad_rows_file)
    if target.report is not None:
        target.report.write_text(json.dumps(_summary(dataset, outcome, seconds), indent=2))


def _summary(dataset: Dataset, outcome: Outcome, seconds: float) -> dict[str, Any]:
    return {
        "dataset": dataset.name,
        "rows_read": dataset.rows_read,
        "skipped": dict(dataset.skipped),
        "bad_rows": [{"where": bad.where, "reason": bad.reason} for bad in dataset.bad_rows],
        "stages": {
            stage.name: {
                "sent": stage.sent,
                "inserted": stage.inserted,
                "updated": stage.updated,
                "duplicates": stage.duplicates,
                "rejected": stage.rejected,
                "resumed": stage.resumed,
            }
            for stage in outcome.stages
        },
        "refused": outcome.problem_count,
        "refusals": outcome.problems,
        "seconds": round(seconds, 1),
    }


CUSTOMER_URL = typer.Option(
    None,
    "--customer-url",
    envvar="CRM_CUSTOMER_URL",
    help="The customer service (default: the local stack's, honouring CUSTOMER_PORT).",
)
ORDERS_URL = typer.Option(
    None,
    "--orders-url",
    envvar="CRM_ORDERS_URL",
    help="The orders service (default: the local stack's, honouring ORDERS_PORT).",
)
TOKEN = typer.Option(
    None,
    "--token",
    envvar="CRM_SERVICE_TOKEN",
    help="The stack's service token (default: the one crm run keeps in VAR/service-token).",
)
VAR = typer.Option(Path("var"), "--var", help="Where crm run keeps its data and token.")
RESUME = typer.Option(
    False, "--resume", help="Skip the batches a previous run of the same import finished."
)
REPORT = typer.Option(None, "--report", help="Also write the final report as JSON to this file.")


def _target(
    customer_url: str | None,
    orders_url: str | None,
    token: str | None,
    var: Path,
    resume: bool,
    report: Path | None,
) -> Target:
    return Target(
        customer_url or _service_url("customer", "crm_customer", 8001, "CUSTOMER_"),
        orders_url or _service_url("orders", "crm_orders", 8002, "ORDERS_"),
        _token(token, var),
        var,
        resume,
        report,
    )


@app.command("online-retail")
def online_retail(
    paths: list[Path] = typer.Argument(
        ..., help="The CSV files (gzipped or not), or a folder holding them."
    ),
    customer_url: str | None = CUSTOMER_URL,
    orders_url: str | None = ORDERS_URL,
    token: str | None = TOKEN,
    var: Path = VAR,
    resume: bool = RESUME,
    report: Path | None = REPORT,
) -> None:
    """UCI Online Retail: invoices as orders, 'C' invoices as refunds of the lines they
    return (or as cancelled orders when the purchase is older than the data)."""
    files: list[Path] = []
    for path in map(_locate, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.name.endswith((".csv", ".csv.gz"))))
        else:
            files.append(path)
    if not files:
        raise typer.BadParameter("no .csv or .csv.gz files there")
    target = _target(customer_url, orders_url, token, var, resume, report)
    _load("online-retail", files, lambda: datasets.read_online_retail(files), target)


@app.command("cdnow")
def cdnow(
    path: Path = typer.Argument(..., help="CDNOW_master.txt or CDNOW_sample.txt."),
    customer_url: str | None = CUSTOMER_URL,
    orders_url: str | None = ORDERS_URL,
    token: str | None = TOKEN,
    var: Path = VAR,
    resume: bool = RESUME,
    report: Path | None = REPORT,
) -> None:
    """CDNOW purchases: one order per row, of the product `cdnow-cd`, totalling the row."""
    source = _locate(path)
    target = _target(customer_url, orders_url, token, var, resume, report)
    _load("cdnow", [source], lambda: datasets.read_cdnow(source), target)


@app.command("movielens")
def movielens(
    directory: Path = typer.Argument(..., help="The ml-100k folder (u.data, u.item, u.user)."),
    customer_url: str | None = CUSTOMER_URL,
    orders_url: str | None = ORDERS_URL,
    token: str | None = TOKEN,
    var: Path = VAR,
    resume: bool = RESUME,
    report: Path | None = REPORT,
) -> None:
    """MovieLens 100k: movies as products, users as customers, ratings as interactions."""
    folder = _locate(directory)
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")
    sources = [p for p in (folder / "u.item", folder / "u.data", folder / "u.user") if p.exists()]
    target = _target(customer_url, orders_url, token, var, resume, report)
    _load("movielens", sources, lambda: datasets.read_movielens(folder), target)
