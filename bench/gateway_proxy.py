"""A GET through the gateway beside the same GET straight to the service, in one run.

64 connections (wrk), each server one uvicorn worker, all on this machine. Two upstreams:

- a bare FastAPI JSON endpoint (the issue's setting, about the cheapest a service can
  be, so the hop's own cost shows most). Besides the gateway, minimal proxies with each
  candidate client (httpx with a tuned pool, an aiohttp ClientSession, the gateway's
  httptools client) and nginx when it is installed take the same hop, so the client is
  chosen by measurement;
- the customer service's `GET /v1/customers/{id}` on a fresh SQLite file, what the
  gateway really fronts.

The gateway runs as in production: API key in `X-API-Key`, the key's token bucket
checked on every call (with a limit high enough never to refuse), access log on.
Goal: gateway ≥ 0.6x direct throughput, ≤ 2 ms added at p50.

`python -m bench.gateway_proxy`; BENCH_SECONDS and BENCH_ROUNDS shorten or lengthen it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.common import background_process, median_run, wait_for, write_result, wrk_get
from crm_shared import synthetic
from crm_shared.json import dumps
from crm_shared.testing import TEST_SERVICE_TOKEN, free_port, service_process, sqlite_url

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 64
CUSTOMERS = 2000
BOOTSTRAP_KEY = "bench-bootstrap-admin-key-0123456789abcdef"
UNLIMITED = json.dumps(
    {role: {"per_second": 1e9, "burst": 1_000_000_000} for role in ("backoffice", "admin")}
)
DROPPED = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server"})

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# The apps below are served by uvicorn in their own processes (`--factory`).


def trivial_upstream() -> Any:
    """A bare FastAPI JSON endpoint the size of a customer."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/v1/customers/{customer_id}")
    async def read_customer(customer_id: str) -> dict[str, Any]:
        return {
            "id": customer_id,
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "address": {"city": "London", "country": "GB"},
            "lifecycle_stage": "active",
            "tags": ["vip", "newsletter"],
        }

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def _proxy_app(
    start: Callable[[], Awaitable[Any]],
    forward: Callable[[Any, Scope], Awaitable[tuple[int, list[tuple[bytes, bytes]], bytes]]],
    stop: Callable[[Any], Awaitable[None]],
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A minimal ASGI proxy: GET only, service token added, no auth or limits."""
    state: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["client"] = await start()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await stop(state["client"])
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        status, headers, body = await forward(state["client"], scope)
        headers = [(name.lower(), value) for name, value in headers if name.lower() not in DROPPED]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _target(scope: Scope) -> str:
    query = scope["query_string"].decode()
    return scope["path"] + (f"?{query}" if query else "")


def httpx_proxy() -> Any:
    import httpx

    url = os.environ["BENCH_UPSTREAM_URL"]
    token = {"x-service-token": os.environ["BENCH_SERVICE_TOKEN"]}

    async def start() -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=CONNECTIONS * 2,
            max_keepalive_connections=CONNECTIONS * 2,
            keepalive_expiry=30,
        )
        return httpx.AsyncClient(base_url=url, limits=limits, timeout=10, headers=token)

    async def forward(client: httpx.AsyncClient, scope: Scope) -> Any:
        response = await client.get(_target(scope))
        return response.status_code, response.headers.raw, response.content

    async def stop(client: httpx.AsyncClient) -> None:
        await client.aclose()

    return _proxy_app(start, forward, stop)


def aiohttp_proxy() -> Any:
    import aiohttp

    url = os.environ["BENCH_UPSTREAM_URL"]
    token = {"x-service-token": os.environ["BENCH_SERVICE_TOKEN"]}

    async def start() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=CONNECTIONS * 2, limit_per_host=0, keepalive_timeout=30, ttl_dns_cache=300
        )
        return aiohttp.ClientSession(
            base_url=url,
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
            headers=token,
        )

    async def forward(session: aiohttp.ClientSession, scope: Scope) -> Any:
        async with session.get(_target(scope)) as response:
            return response.status, list(response.raw_headers), await response.read()

    async def stop(session: aiohttp.ClientSession) -> None:
        await session.close()

    return _proxy_app(start, forward, stop)


def http11_proxy() -> Any:
    from crm_gateway.upstreams.http11 import ConnectionPool

    url = os.environ["BENCH_UPSTREAM_URL"]
    token = [(b"x-service-token", os.environ["BENCH_SERVICE_TOKEN"].encode())]

    async def start() -> ConnectionPool:
        return ConnectionPool(url, max_connections=CONNECTIONS * 2, connect_timeout=1)

    async def forward(pool: ConnectionPool, scope: Scope) -> Any:
        response = await pool.request(
            "GET", _target(scope).encode(), token, None, timeout_seconds=10
        )
        try:
            return response.status, response.headers, await response.read(10)
        finally:
            response.close()

    async def stop(pool: ConnectionPool) -> None:
        pool.close()

    return _proxy_app(start, forward, stop)


# The run.


def _uvicorn(factory: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"bench.gateway_proxy:{factory}",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


@contextmanager
def _gateway(upstream_url: str, logs: Path) -> Iterator[tuple[str, str]]:
    """The gateway in front of the upstream, and a backoffice key for it."""
    with service_process(
        "crm_gateway",
        "GATEWAY_",
        database_url=sqlite_url(logs, "gateway"),
        log_dir=logs,
        extra_env={
            "GATEWAY_CUSTOMER_URL": upstream_url,
            "GATEWAY_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
            "GATEWAY_ROLE_RATE_LIMITS": UNLIMITED,
        },
    ) as gateway:
        created = httpx.post(
            f"{gateway.url}/v1/admin/keys",
            json={"name": "bench", "role": "backoffice"},
            headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"},
        )
        created.raise_for_status()
        yield gateway.url, created.json()["key"]


@contextmanager
def _nginx(upstream_port: int, logs: Path) -> Iterator[str | None]:
    """nginx as the hop, for comparison, when it is installed."""
    binary = shutil.which("nginx")
    if binary is None:
        yield None
        return
    port = free_port()
    conf = logs / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {logs}/nginx.pid;
error_log {logs}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {logs}/nginx-body;
    proxy_temp_path {logs}/nginx-proxy;
    fastcgi_temp_path {logs}/nginx-fastcgi;
    uwsgi_temp_path {logs}/nginx-uwsgi;
    scgi_temp_path {logs}/nginx-scgi;
    upstream service {{ server 127.0.0.1:{upstream_port}; keepalive 128; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Service-Token {TEST_SERVICE_TOKEN};
        }}
    }}
}}
"""
    )
    with background_process([binary, "-c", str(conf)], {}, logs / "nginx.log"):
        yield f"http://127.0.0.1:{port}"


def _measure(
    targets: dict[str, tuple[str, str, str]], paths: list[str]
) -> dict[str, dict[str, Any]]:
    """Each target `ROUNDS` times, interleaved so that load from elsewhere hits all alike."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for url, token, header in targets.values():
        wrk_get(url, paths, token, header=header, seconds=2, connections=CONNECTIONS)  # warm-up
    for _ in range(ROUNDS):
        for name, (url, token, header) in targets.items():
            runs[name].append(
                wrk_get(url, paths, token, header=header, seconds=SECONDS, connections=CONNECTIONS)
            )
    return {name: {**median_run(found), "rounds": found} for name, found in runs.items()}


def _hop_latency(
    targets: dict[str, tuple[str, str, str]], paths: list[str]
) -> dict[str, dict[str, Any]]:
    """One connection, one call at a time: the latency a hop adds when nothing queues."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, (url, token, header) in targets.items():
            runs[name].append(wrk_get(url, paths, token, header=header, seconds=5, connections=1))
    return {name: min(found, key=lambda run: run["p50_ms"]) for name, found in runs.items()}


def _versus(hop: dict[str, Any], direct: dict[str, Any]) -> dict[str, float]:
    return {
        "ratio": round(hop["requests_per_s"] / direct["requests_per_s"], 3),
        "added_p50_ms": round(hop["p50_ms"] - direct["p50_ms"], 2),
        "added_p99_ms": round(hop["p99_ms"] - direct["p99_ms"], 2),
    }


def trivial_upstream_run(logs: Path) -> dict[str, Any]:
    logs.mkdir()
    token = TEST_SERVICE_TOKEN
    service = ("X-Service-Token", token)
    upstream_port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    env = {"BENCH_UPSTREAM_URL": upstream, "BENCH_SERVICE_TOKEN": token}
    paths = [f"/v1/customers/c{number}" for number in range(1000)]
    with ExitStack() as stack:
        stack.enter_context(
            background_process(
                _uvicorn("trivial_upstream", upstream_port), env, logs / "upstream.log"
            )
        )
        wait_for(f"{upstream}/ready")
        targets = {"direct": (upstream, token, "X-Service-Token")}
        gateway_url, key = stack.enter_context(_gateway(upstream, logs))
        targets["gateway"] = (gateway_url, key, "X-API-Key")
        for client in ("http11", "aiohttp", "httpx"):
            port = free_port()
            stack.enter_context(
                background_process(
                    _uvicorn(f"{client}_proxy", port), env, logs / f"{client}-proxy.log"
                )
            )
            wait_for(f"http://127.0.0.1:{port}{paths[0]}")
            targets[f"proxy_{client}"] = (f"http://127.0.0.1:{port}", *service)
        nginx = stack.enter_context(_nginx(upstream_port, logs))
        if nginx is not None:
            wait_for(f"{nginx}{paths[0]}")
            targets["nginx"] = (nginx, *service)
        measured = _measure(targets, paths)
        unloaded = _hop_latency(targets, paths)
    direct = measured["direct"]
    return {
        "upstream": "bare FastAPI JSON endpoint, one uvicorn worker",
        "nginx_installed": nginx is not None,
        **measured,
        "versus_direct": {
            name: _versus(found, direct) for name, found in measured.items() if name != "direct"
        },
        "one_connection": unloaded,
        "one_connection_added_p50_ms": {
            name: round(found["p50_ms"] - unloaded["direct"]["p50_ms"], 2)
            for name, found in unloaded.items()
            if name != "direct"
        },
    }


def customer_service_run(logs: Path) -> dict[str, Any]:
    logs.mkdir()
    with service_process(
        "crm_customer",
        "CUSTOMER_",
        database_url=sqlite_url(logs, "customer"),
        log_dir=logs,
    ) as customer:
        lines = b"\n".join(dumps(row) for row in synthetic.customers(CUSTOMERS, seed=11))
        imported = httpx.post(
            f"{customer.url}/v1/customers/import",
            content=lines,
            headers={"X-Service-Token": TEST_SERVICE_TOKEN, "content-type": "application/x-ndjson"},
            timeout=120,
        )
        imported.raise_for_status()
        page = httpx.get(
            f"{customer.url}/v1/customers?limit=500",
            headers={"X-Service-Token": TEST_SERVICE_TOKEN},
        ).json()
        paths = [f"/v1/customers/{item['id']}" for item in page["items"]]
        with _gateway(customer.url, logs) as (gateway_url, key):
            targets = {
                "direct": (customer.url, TEST_SERVICE_TOKEN, "X-Service-Token"),
                "gateway": (gateway_url, key, "X-API-Key"),
            }
            measured = _measure(targets, paths)
            unloaded = _hop_latency(targets, paths)
    return {
        "upstream": f"customer service GET /v1/customers/{{id}}, SQLite, {CUSTOMERS} customers",
        **measured,
        "versus_direct": {"gateway": _versus(measured["gateway"], measured["direct"])},
        "one_connection": unloaded,
        "one_connection_added_p50_ms": {
            "gateway": round(unloaded["gateway"]["p50_ms"] - unloaded["direct"]["p50_ms"], 2)
        },
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        trivial = trivial_upstream_run(logs / "trivial")
        customer = customer_service_run(logs / "customer")
    result = {
        "benchmark": "gateway_proxy",
        "connections": CONNECTIONS,
        "seconds": SECONDS,
        "rounds": ROUNDS,
        "goal": {"ratio": 0.6, "added_p50_ms": 2.0},
        "trivial_upstream": trivial,
        "customer_service": customer,
    }
    path = write_result("gateway_proxy", result)
    for name, run in (("bare endpoint", trivial), ("customer service", customer)):
        direct = run["direct"]
        print(f"{name}: direct {direct['requests_per_s']} req/s, p50 {direct['p50_ms']} ms")
        for hop, versus in run["versus_direct"].items():
            found = run[hop]
            print(
                f"  {hop:<14} {found['requests_per_s']:>8} req/s  p50 {found['p50_ms']} ms  "
                f"p99 {found['p99_ms']} ms  {versus['ratio']}x  +{versus['added_p50_ms']} ms p50; "
                f"one connection: +{run['one_connection_added_p50_ms'][hop]} ms p50"
            )
    print(f"-> {path}")


if __name__ == "__main__":
    main()
