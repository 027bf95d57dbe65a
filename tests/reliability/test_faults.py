"""Faults on real processes: a service killed under load, PostgreSQL restarted during writes,
and the owners of the data down while analytics and recommend keep serving.

The stack runs on a throwaway PostgreSQL cluster of this module's own (initdb into a
temporary folder, its own port), so restarting it never disturbs the machine's server.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from rich.progress import Progress

from crm_cli.demo import demo_dataset
from crm_cli.importers import Importer, ImportState, Services
from crm_shared import synthetic
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    ServiceProcess,
    assert_problem,
    free_port,
    fresh_postgres_database,
    service_process,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("reliability-faults")]

BOOTSTRAP_KEY = "faults-bootstrap-admin-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
SHOP_CUSTOMERS = 60
BREAKER_OPEN_SECONDS = 1.0
ROUTE_TIMEOUT_SECONDS = 10.0
# Importing the scientific stack of analytics and recommend is slow on a busy machine.
READY_SECONDS = 180.0
KEY_CACHE_SECONDS = 0.5
SERVICES = {
    "customer": ("crm_customer", "CUSTOMER_"),
    "orders": ("crm_orders", "ORDERS_"),
    "analytics": ("crm_analytics", "ANALYTICS_"),
    "recommend": ("crm_recommend", "RECOMMEND_"),
}


def _postgres_bin() -> Path | None:
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder on a port of its own.

    PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres`
    system user and its commands run through `runuser`.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="crm-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run(  # noqa: S603 - PostgreSQL's own tools
            [*self._as_owner, *command], check=True, capture_output=True, timeout=60
        )

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "start",
            "-w",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `immediate` is a crash: no checkpoint, recovery on the next start."""
        self._run(str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data))

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = ThrowawayPostgres(bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


@dataclass
class FaultStack:
    """The four services on the throwaway cluster and the gateway; services can be stopped,
    killed and started again where the gateway and their siblings expect them."""

    postgres: ThrowawayPostgres
    database_urls: dict[str, str]
    log_dir: Path
    gateway: ServiceProcess
    ports: dict[str, int] = field(default_factory=dict)
    running: dict[str, tuple[ServiceProcess, ExitStack]] = field(default_factory=dict)
    customer_ids: list[str] = field(default_factory=list)
    product_ids: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str) -> ServiceProcess:
        module, prefix = SERVICES[name]
        siblings = {
            f"{prefix}{other.upper()}_URL": self.url(other) for other in SERVICES if other != name
        }
        stack = ExitStack()
        process = stack.enter_context(
            service_process(
                module,
                prefix,
                database_url=self.database_urls[name],
                log_dir=self.log_dir,
                port=self.ports[name],
                ready_timeout=READY_SECONDS,
                extra_env={
                    **siblings,
                    "ANALYTICS_RUN_INTERVAL_SECONDS": "0",
                    "RECOMMEND_SYNC_INTERVAL_SECONDS": "0",
                    "RECOMMEND_TRAINING_INTERVAL_SECONDS": "0",
                    "RECOMMEND_MODEL_DIR": str(self.log_dir / "models"),
                },
            )
        )
        self.running[name] = (process, stack)
        return process

    def stop(self, name: str, *, kill: bool = False) -> None:
        process, stack = self.running.pop(name)
        if kill:
            process.process.send_signal(signal.SIGKILL)
            process.process.wait(10)
        stack.close()

    def pid(self, name: str) -> int:
        return self.running[name][0].process.pid


@pytest.fixture(scope="module")
def fault_stack(
    throwaway_postgres: ThrowawayPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStack]:
    log_dir = tmp_path_factory.mktemp("faults")
    with ExitStack() as stack:
        database_urls = {
            name: stack.enter_context(
                fresh_postgres_database(throwaway_postgres.admin_url, f"crm_faults_{name}")
            )
            for name in (*SERVICES, "gateway")
        }
        ports = {name: free_port() for name in SERVICES}
        gateway = stack.enter_context(
            service_process(
                "crm_gateway",
                "GATEWAY_",
                database_url=database_urls["gateway"],
                log_dir=log_dir,
                ready_timeout=READY_SECONDS,
                extra_env={
                    **{
                        f"GATEWAY_{name.upper()}_URL": f"http://127.0.0.1:{port}"
                        for name, port in ports.items()
                    },
                    "GATEWAY_REQUIRED_UPSTREAMS": "",
                    "GATEWAY_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
                    "GATEWAY_RATE_LIMIT_PER_SECOND": "100000",
                    "GATEWAY_RATE_LIMIT_BURST": "100000",
                    "GATEWAY_BREAKER_OPEN_SECONDS": str(BREAKER_OPEN_SECONDS),
                    "GATEWAY_UPSTREAM_TIMEOUT_SECONDS": str(ROUTE_TIMEOUT_SECONDS),
                    "GATEWAY_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
                },
            )
        )
        faults = FaultStack(throwaway_postgres, database_urls, log_dir, gateway, ports)
        try:
            # Started side by side: a service calls its siblings only when asked to.
            with ThreadPoolExecutor(len(SERVICES)) as starting:
                list(starting.map(faults.start, SERVICES))
            _seed(faults)
            yield faults
        finally:
            for name in list(faults.running):
                faults.stop(name)


def _seed(faults: FaultStack) -> None:
    """A small synthetic shop, loaded the way `crm run` loads its demo."""
    dataset, _ = demo_dataset(SHOP_CUSTOMERS, end=synthetic.default_end(), seed=11)
    services = Services(faults.url("customer"), faults.url("orders"), TEST_SERVICE_TOKEN)
    try:
        importer = Importer(
            dataset,
            services,
            ImportState(faults.log_dir / "import.json", False),
            Progress(disable=True),
        )
        outcome = importer.run()
        assert outcome.problem_count == 0, outcome.problems[:5]
        faults.customer_ids = sorted(importer.customer_ids.values())
        products = services.orders.get("/v1/products", params={"limit": 50}).json()["items"]
        faults.product_ids = [product["id"] for product in products if product["active"]]
    finally:
        services.close()


def _gateway(faults: FaultStack) -> httpx.Client:
    return httpx.Client(base_url=faults.gateway.url, headers=ADMIN, timeout=30)


def _finish(client: httpx.Client, path: str, timeout: float = 120) -> dict[str, Any]:
    """Poll a run until it is done; its last state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(path).json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"{path} still running after {timeout}s")


@dataclass
class Answer:
    at: float
    status: int
    seconds: float
    problem_type: str | None
    path: str = ""
    created_id: str | None = None


async def _hammer(
    base_url: str,
    requests: Callable[[int], tuple[str, str, dict[str, Any] | None]],
    *,
    workers: int,
    until: Callable[[], bool],
) -> list[Answer]:
    """`workers` clients calling in a loop until `until()`; every answer with its latency.
    `requests(n)` gives the n-th call: method, path and JSON body."""
    answers: list[Answer] = []
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        while not until():
            method, path, body = requests(next(counter))
            started = time.monotonic()
            try:
                response = await client.request(method, path, json=body)
            except httpx.TransportError:
                answers.append(Answer(started, 0, time.monotonic() - started, None))
                continue
            seconds = time.monotonic() - started
            kind = created = None
            if response.headers.get("content-type", "").startswith("application/problem+json"):
                kind = response.json()["type"]
            elif response.status_code == 201:
                created = response.json()["id"]
            answers.append(Answer(started, response.status_code, seconds, kind, path, created))
            await asyncio.sleep(0.005)

    async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(workers)))
    return answers


def _record(name: str, figures: dict[str, Any]) -> None:
    """The figures of a fault run, for docs/reliability.md (`pytest -s` shows them)."""
    print(json.dumps({name: figures}))


def _p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)] if values else 0.0


def test_analytics_and_recommend_keep_serving_while_the_owners_are_down(
    fault_stack: FaultStack,
) -> None:
    with _gateway(fault_stack) as gateway:
        scoring = gateway.post("/v1/runs", json={})
        assert scoring.status_code in (201, 202), scoring.text
        assert _finish(gateway, f"/v1/runs/{scoring.json()['id']}")["status"] == "succeeded"
        training = gateway.post("/v1/models/training-runs", json={})
        assert training.status_code in (201, 202), training.text
        trained = _finish(gateway, f"/v1/models/training-runs/{training.json()['id']}")
        assert trained["status"] == "succeeded", trained

        segments = gateway.get("/v1/segments", params={"limit": 100}).json()["items"]
        segment = max(segments, key=lambda s: s["size"] or 0)
        assert segment["size"], "the scoring run put customers in segments"
        customer = next(
            c
            for c in fault_stack.customer_ids
            if gateway.get(f"/v1/customers/{c}/scores").status_code == 200
        )

        def served() -> dict[str, Any]:
            return {
                "segments": gateway.get("/v1/segments", params={"limit": 100}).json(),
                "members": gateway.get(f"/v1/segments/{segment['id']}/members").json(),
                "csv": gateway.get(f"/v1/segments/{segment['id']}/members.csv").text,
                "scores": gateway.get(f"/v1/customers/{customer}/scores").json(),
                "recommendations": gateway.get(f"/v1/recommendations/{customer}").json(),
                "popular": gateway.get("/v1/products/popular").json(),
            }

        before = served()
        assert before["recommendations"]["model_version"] is not None
        assert before["members"]["items"]
        fault_stack.stop("customer")
        fault_stack.stop("orders")
        try:
            down = gateway.get(f"/v1/customers/{customer}")
            assert_problem(down, 503, "upstream-unavailable")
            assert served() == before

            # A refresh while the owners are down scores the copies it has: the same results.
            stale_run = gateway.post("/v1/runs", json={})
            assert stale_run.status_code in (201, 202), stale_run.text
            stale = _finish(gateway, f"/v1/runs/{stale_run.json()['id']}")
            assert stale["status"] == "succeeded", stale
            assert stale["sync"], stale
            assert not any(feed["ok"] for feed in stale["sync"]), stale["sync"]
            synced = gateway.post("/v1/sync")
            assert synced.status_code < 500, synced.text
            after = served()
            assert _sizes(after) == _sizes(before)
            assert _member_ids(after) == _member_ids(before)
            assert after["recommendations"] == before["recommendations"]
        finally:
            fault_stack.start("customer")
            fault_stack.start("orders")
        assert gateway.get(f"/v1/customers/{customer}").status_code == 200


def _sizes(served: dict[str, Any]) -> dict[str, int | None]:
    return {segment["id"]: segment["size"] for segment in served["segments"]["items"]}


def _member_ids(served: dict[str, Any]) -> list[str]:
    return [member["customer_id"] for member in served["members"]["items"]]


def test_a_killed_service_gets_fast_503s_and_recovers(fault_stack: FaultStack) -> None:
    customers = fault_stack.customer_ids
    killed_at: list[float] = []
    restarting_at: list[float] = []
    back_at: list[float] = []
    recovered_at: list[float] = []

    def call(n: int) -> tuple[str, str, None]:
        return "GET", f"/v1/customers/{customers[n % len(customers)]}", None

    async def scenario() -> list[Answer]:
        done = False
        load = asyncio.ensure_future(
            _hammer(fault_stack.gateway.url, call, workers=8, until=lambda: done)
        )
        await asyncio.sleep(1.0)
        await asyncio.to_thread(fault_stack.stop, "customer", kill=True)
        killed_at.append(time.monotonic())
        await asyncio.sleep(2.0)
        restarting_at.append(time.monotonic())
        await asyncio.to_thread(fault_stack.start, "customer")
        back_at.append(time.monotonic())
        async with httpx.AsyncClient(base_url=fault_stack.gateway.url, headers=ADMIN) as probe:
            while time.monotonic() - back_at[0] < 15:
                if (await probe.get(f"/v1/customers/{customers[0]}")).status_code == 200:
                    recovered_at.append(time.monotonic())
                    break
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        done = True
        return await load

    answers = asyncio.run(scenario())
    # From the moment the process is gone until its successor is started.
    outage = [a for a in answers if killed_at[0] < a.at < restarting_at[0]]
    after = [a for a in answers if recovered_at and a.at > recovered_at[0] + 0.1]
    assert len(outage) > 50, "the load kept calling during the outage"
    assert {a.status for a in outage} == {503}, sorted({a.status for a in outage})
    assert {a.problem_type for a in outage} == {"urn:crm:problem:upstream-unavailable"}
    p99 = _p99([a.seconds for a in outage])
    assert p99 < 1.0, (
        f"503s must come fast, p99 {p99:.3f}s (route timeout {ROUTE_TIMEOUT_SECONDS}s)"
    )
    assert {a.status for a in answers} <= {200, 502, 503}
    assert recovered_at, "the gateway never routed to the restarted service"
    assert recovered_at[0] - back_at[0] < BREAKER_OPEN_SECONDS + 4
    assert after
    assert {a.status for a in after} == {200}
    _record(
        "service_killed",
        {
            "answers_during_outage": len(outage),
            "p99_503_ms": round(p99 * 1000, 1),
            "median_503_ms": round(statistics.median(a.seconds for a in outage) * 1000, 1),
            "recovered_after_restart_s": round(recovered_at[0] - back_at[0], 2),
            "route_timeout_s": ROUTE_TIMEOUT_SECONDS,
        },
    )


async def _rows(url: str, sql: str) -> set[str]:
    dsn = url.replace("postgresql://", "postgres://", 1)
    connection = await asyncpg.connect(dsn)
    try:
        return {str(row[0]) for row in await connection.fetch(sql)}
    finally:
        await connection.close()


def test_a_postgres_restart_loses_no_acknowledged_write(fault_stack: FaultStack) -> None:
    marker = uuid.uuid4().hex[:8]
    customers, products = fault_stack.customer_ids, fault_stack.product_ids
    pids = {name: fault_stack.pid(name) for name in ("customer", "orders")}
    stopped_at: list[float] = []
    started_at: list[float] = []

    def write(n: int) -> tuple[str, str, dict[str, Any] | None]:
        # Reads ride along: the hot read path has a driver pool of its own to recover.
        if n % 3 == 2:
            return "GET", f"/v1/customers/{customers[n % len(customers)]}", None
        if n % 3 == 1:
            return "POST", "/v1/customers", {"email": f"fault-{marker}-{n}@example.com"}
        return (
            "POST",
            "/v1/orders",
            {
                "customer_id": customers[n % len(customers)],
                "external_ref": f"fault-{marker}-{n}",
                "channel": "web",
                "currency": "EUR",
                "lines": [
                    {"product_id": products[n % len(products)], "quantity": 1, "unit_price": "9.90"}
                ],
            },
        )

    async def scenario() -> list[Answer]:
        done = False
        load = asyncio.ensure_future(
            _hammer(fault_stack.gateway.url, write, workers=6, until=lambda: done)
        )
        await asyncio.sleep(1.0)
        stopped_at.append(time.monotonic())
        await asyncio.to_thread(fault_stack.postgres.stop, "immediate")
        await asyncio.sleep(1.5)
        await asyncio.to_thread(fault_stack.postgres.start)
        started_at.append(time.monotonic())
        await asyncio.sleep(3.0)
        done = True
        return await load

    answers = asyncio.run(scenario())
    statuses = {a.status for a in answers}
    assert statuses <= {200, 201, 503}, sorted(statuses)
    refused = [a for a in answers if a.status == 503]
    assert refused, "calls while the database was down were refused"
    assert {a.path.split("/")[2] for a in refused} == {"customers", "orders"}
    assert {a.problem_type for a in refused} <= {
        "urn:crm:problem:database-unavailable",
        # Orders could not ask the customer service whether the customer exists.
        "urn:crm:problem:customer-service-unavailable",
        "urn:crm:problem:upstream-unavailable",
    }
    late = [a for a in answers if a.at > started_at[0] + 1.5]
    assert late, "the load went on after the restart"
    assert {a.status for a in late} == {200, 201}, "the services reconnected by themselves"
    assert {name: fault_stack.pid(name) for name in pids} == pids, "no service was restarted"

    # Every acknowledged create is in the database.
    acknowledged = {
        path: {a.created_id for a in answers if a.path == path and a.status == 201}
        for path in ("/v1/customers", "/v1/orders")
    }
    stored_customers = asyncio.run(
        _rows(
            fault_stack.database_urls["customer"],
            f"SELECT id FROM customers WHERE email LIKE 'fault-{marker}-%'",
        )
    )
    stored_orders = asyncio.run(
        _rows(
            fault_stack.database_urls["orders"],
            f"SELECT id FROM orders WHERE external_ref LIKE 'fault-{marker}-%'",
        )
    )
    assert acknowledged["/v1/customers"]
    assert acknowledged["/v1/orders"]
    assert acknowledged["/v1/customers"] <= stored_customers
    assert acknowledged["/v1/orders"] <= stored_orders
    outage = [a for a in refused if stopped_at[0] < a.at < started_at[0] + 1.5]
    _record(
        "postgres_restart",
        {
            "acknowledged_customers": len(acknowledged["/v1/customers"]),
            "acknowledged_orders": len(acknowledged["/v1/orders"]),
            "lost": len(acknowledged["/v1/customers"] - stored_customers)
            + len(acknowledged["/v1/orders"] - stored_orders),
            "refused_503": len(refused),
            "p99_503_ms": round(_p99([a.seconds for a in outage]) * 1000, 1),
            "first_success_after_start_s": round(
                min(a.at + a.seconds for a in answers if a.status == 201 and a.at > started_at[0])
                - started_at[0],
                2,
            ),
        },
    )


def _key(faults: FaultStack, role: str) -> str:
    """A new key; retried as a client would on 503 (after a database restart, the first
    statement on a pool of idle connections fails and the next reconnects)."""
    for _ in range(5):
        created = httpx.post(
            f"{faults.gateway.url}/v1/admin/keys",
            json={"name": f"faults {role}", "role": role},
            headers=ADMIN,
            timeout=30,
        )
        if created.status_code != 503:
            break
        time.sleep(float(created.headers["retry-after"]))
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def test_keys_while_the_gateway_database_is_down(fault_stack: FaultStack) -> None:
    """The gateway keeps its keys in PostgreSQL too: a key it has seen keeps working (its
    last lookup is used past the cache time), one it has not is a 503, never a 500."""
    seen, unseen = _key(fault_stack, "backoffice"), _key(fault_stack, "backoffice")
    path = f"/v1/customers/{fault_stack.customer_ids[0]}"
    with httpx.Client(base_url=fault_stack.gateway.url, timeout=30) as gateway:
        assert gateway.get(path, headers={"X-API-Key": seen}).status_code == 200
        fault_stack.postgres.stop("immediate")
        try:
            time.sleep(KEY_CACHE_SECONDS * 2)
            known = gateway.get(path, headers={"X-API-Key": seen})
            unknown = gateway.get(path, headers={"X-API-Key": unseen})
        finally:
            fault_stack.postgres.start()
        # The customer service's own database is down as well: its answer, not the key's.
        assert_problem(known, 503, "database-unavailable")
        problem = assert_problem(unknown, 503, "key-store-unavailable")
        assert unknown.headers["retry-after"] == "1", problem
        deadline = time.monotonic() + 10
        while gateway.get(path, headers={"X-API-Key": unseen}).status_code != 200:
            assert time.monotonic() < deadline, "the gateway never reconnected to its database"
            time.sleep(0.2)
