"""A bounded mixed load through the gateway on the demo stack, all traffic at once.

The four services run on fresh PostgreSQL databases with the demo shop loaded (the one
`crm run` loads), scored and trained once; the gateway fronts them as in production. Three
kinds of client call at the same time, each with its own key:

- storefront: `GET /v1/recommendations/{id}` for random demo customers;
- back office: `POST /v1/customers` and `POST /v1/orders`, alternately;
- marketing: a segment's members as CSV (`members.csv`, every member) and a page of
  `GET /v1/scores`, alternately.

Baseline, same run: the storefront calls alone with the same clients. Reported: req/s, p50
and p99 per kind, errors (any answer that is not 2xx, or no answer; goal 0) and the RSS
of every process before and after the mixed run. The clients are asyncio httpx clients in
this process, the same in both runs, so the ratio compares like with like.

`python -m bench.mixed_load`; BENCH_SECONDS (default 20) and BENCH_CUSTOMERS (default the
demo's 2,500) shorten it.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

from bench.common import ADMIN_URL, write_result
from crm_cli.demo import DEMO_CUSTOMERS, demo_dataset
from crm_cli.importers import Importer, ImportState, Services
from crm_shared import synthetic
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    ServiceProcess,
    free_port,
    fresh_postgres_database,
    service_process,
    sqlite_url,
)

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", str(DEMO_CUSTOMERS)))
BOOTSTRAP_KEY = "bench-mixed-bootstrap-admin-key-0123456789"
# Concurrent clients of each kind.
STOREFRONT_CLIENTS = 16
BACKOFFICE_CLIENTS = 4
MARKETING_CLIENTS = 1
# A loaded machine can take long to import the scientific stack of analytics and recommend.
READY_SECONDS = 300.0
SERVICES = {
    "customer": ("crm_customer", "CUSTOMER_"),
    "orders": ("crm_orders", "ORDERS_"),
    "analytics": ("crm_analytics", "ANALYTICS_"),
    "recommend": ("crm_recommend", "RECOMMEND_"),
}

Call = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def _rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (worker pools), in MiB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
        pending.extend(int(child) for child in children)
    return round(total / 1024, 1)


def _start_stack(stack: ExitStack, logs: Path) -> tuple[ServiceProcess, dict[str, ServiceProcess]]:
    urls = {
        name: stack.enter_context(fresh_postgres_database(ADMIN_URL, f"crm_bench_mixed_{name}"))
        for name in SERVICES
    }
    ports = {name: free_port() for name in SERVICES}
    internal = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

    def start(name: str) -> ServiceProcess:
        module, prefix = SERVICES[name]
        return stack.enter_context(
            service_process(
                module,
                prefix,
                database_url=urls[name],
                log_dir=logs,
                port=ports[name],
                ready_timeout=READY_SECONDS,
                extra_env={
                    **{f"{prefix}{other.upper()}_URL": url for other, url in internal.items()},
                    "ANALYTICS_RUN_INTERVAL_SECONDS": "0",
                    "RECOMMEND_SYNC_INTERVAL_SECONDS": "0",
                    "RECOMMEND_TRAINING_INTERVAL_SECONDS": "0",
                    "RECOMMEND_MODEL_DIR": str(logs / "models"),
                },
            )
        )

    with ThreadPoolExecutor(len(SERVICES)) as starting:
        services = dict(zip(SERVICES, starting.map(start, SERVICES), strict=True))
    gateway = stack.enter_context(
        service_process(
            "crm_gateway",
            "GATEWAY_",
            database_url=sqlite_url(logs, "gateway"),
            log_dir=logs,
            ready_timeout=READY_SECONDS,
            extra_env={
                **{f"GATEWAY_{name.upper()}_URL": url for name, url in internal.items()},
                "GATEWAY_REQUIRED_UPSTREAMS": ",".join(SERVICES),
                "GATEWAY_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
                # Limits high enough never to refuse: the load is bounded by its clients.
                "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
                "GATEWAY_RATE_LIMIT_BURST": "1000000",
                "GATEWAY_ROLE_RATE_LIMITS": "{}",
            },
        )
    )
    return gateway, services


def _load_demo(services: dict[str, ServiceProcess], logs: Path) -> list[str]:
    dataset, _ = demo_dataset(CUSTOMERS, end=synthetic.default_end())
    clients = Services(services["customer"].url, services["orders"].url, TEST_SERVICE_TOKEN)
    try:
        importer = Importer(
            dataset, clients, ImportState(logs / "import.json", False), Progress(disable=True)
        )
        outcome = importer.run()
    finally:
        clients.close()
    if outcome.problem_count:
        raise SystemExit(f"the demo shop was refused in part: {outcome.problems[:5]}")
    return sorted(importer.customer_ids.values())


def _prepare(gateway: str) -> dict[str, str]:
    """Score and train once; a key per role."""
    admin = httpx.Client(
        base_url=gateway, headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}, timeout=60
    )
    with admin:
        for start, follow in (
            ("/v1/runs", "/v1/runs/{}"),
            ("/v1/models/training-runs", "/v1/models/training-runs/{}"),
        ):
            run = admin.post(start, json={})
            run.raise_for_status()
            path = follow.format(run.json()["id"])
            while (state := admin.get(path).json())["status"] not in ("succeeded", "failed"):
                time.sleep(0.5)
            if state["status"] != "succeeded":
                raise SystemExit(f"{start} failed: {state}")
        keys = {}
        for role in ("storefront", "backoffice", "marketing"):
            created = admin.post("/v1/admin/keys", json={"name": f"bench {role}", "role": role})
            created.raise_for_status()
            keys[role] = created.json()["key"]
    return keys


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 2)


async def _drive(
    gateway: str, key: str, clients: int, call: Call, seconds: float
) -> dict[str, Any]:
    """`clients` concurrent callers of `call` for `seconds`: throughput, latency, errors."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=gateway, headers={"X-API-Key": key}, timeout=30, limits=limits
    ) as client:

        async def caller() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = await call(client, next(counter))
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append(time.monotonic() - started)
                if not response.is_success:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1

        began = time.monotonic()
        await asyncio.gather(*(caller() for _ in range(clients)))
        elapsed = time.monotonic() - began
    return {
        "clients": clients,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
    }


def _calls(customer_ids: list[str], product_ids: list[str], segment: str) -> dict[str, Call]:
    rng = random.Random(7)
    run = f"{rng.getrandbits(32):08x}"

    async def recommendations(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.get(f"/v1/recommendations/{rng.choice(customer_ids)}")

    async def backoffice(client: httpx.AsyncClient, n: int) -> httpx.Response:
        if n % 2:
            return await client.post(
                "/v1/customers", json={"email": f"bench.{run}.{n}@example.com"}
            )
        return await client.post(
            "/v1/orders",
            json={
                "customer_id": rng.choice(customer_ids),
                "channel": "web",
                "currency": "EUR",
                "lines": [
                    {"product_id": rng.choice(product_ids), "quantity": 1 + n % 3}
                    for _ in range(1 + n % 3)
                ],
            },
            headers={"Idempotency-Key": f"bench-{run}-{n}"},
        )

    async def marketing(client: httpx.AsyncClient, n: int) -> httpx.Response:
        if n % 2:
            return await client.get(
                f"/v1/segments/{segment}/members.csv", params={"consent": "any"}
            )
        return await client.get("/v1/scores", params={"limit": 200})

    return {"storefront": recommendations, "backoffice": backoffice, "marketing": marketing}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        logs = Path(tmp)
        print(f"starting the stack and loading {CUSTOMERS:,} demo customers", flush=True)
        gateway, services = _start_stack(stack, logs)
        customer_ids = _load_demo(services, logs)
        keys = _prepare(gateway.url)
        with httpx.Client(base_url=gateway.url, timeout=60) as client:
            products = client.get(
                "/v1/products",
                params={"limit": 200},
                headers={"X-API-Key": keys["backoffice"]},
            ).json()["items"]
            segments = client.get(
                "/v1/segments", params={"limit": 100}, headers={"X-API-Key": keys["marketing"]}
            ).json()["items"]
        product_ids = [product["id"] for product in products if product["active"]]
        segment = max(segments, key=lambda s: s["size"] or 0)
        calls = _calls(customer_ids, product_ids, segment["id"])
        processes = {"gateway": gateway, **services}

        print(f"storefront alone, {SECONDS:g} s", flush=True)
        alone = asyncio.run(
            _drive(
                gateway.url, keys["storefront"], STOREFRONT_CLIENTS, calls["storefront"], SECONDS
            )
        )
        rss_before = {name: _rss_mib(p.process.pid) for name, p in processes.items()}

        async def mixed() -> list[dict[str, Any]]:
            return await asyncio.gather(
                _drive(
                    gateway.url,
                    keys["storefront"],
                    STOREFRONT_CLIENTS,
                    calls["storefront"],
                    SECONDS,
                ),
                _drive(
                    gateway.url,
                    keys["backoffice"],
                    BACKOFFICE_CLIENTS,
                    calls["backoffice"],
                    SECONDS,
                ),
                _drive(
                    gateway.url, keys["marketing"], MARKETING_CLIENTS, calls["marketing"], SECONDS
                ),
            )

        print(f"mixed load, {SECONDS:g} s", flush=True)
        storefront, backoffice, marketing = asyncio.run(mixed())
        rss_after = {name: _rss_mib(p.process.pid) for name, p in processes.items()}

    result = {
        "benchmark": "mixed_load",
        "seconds": SECONDS,
        "customers": CUSTOMERS,
        "segment": {"id": segment["id"], "size": segment["size"]},
        "storefront_alone": alone,
        "mixed": {"storefront": storefront, "backoffice": backoffice, "marketing": marketing},
        "errors": storefront["errors"] + backoffice["errors"] + marketing["errors"],
        "ratio": round(storefront["requests_per_s"] / alone["requests_per_s"], 2),
        "p99_ratio": round(storefront["p99_ms"] / alone["p99_ms"], 2) if alone["p99_ms"] else None,
        "rss_mib": {
            name: {
                "before": rss_before[name],
                "after": rss_after[name],
                "growth": round(rss_after[name] - rss_before[name], 1),
            }
            for name in processes
        },
        "goal": {"errors": 0},
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    path = write_result("mixed_load", result)
    print(
        f"storefront {storefront['requests_per_s']:,} req/s under mixed load vs "
        f"{alone['requests_per_s']:,} alone ({result['ratio']}x); back office "
        f"{backoffice['requests_per_s']:,} req/s; marketing {marketing['requests_per_s']:,} "
        f"req/s; errors {result['errors']} -> {path}"
    )


if __name__ == "__main__":
    main()
