"""Fixtures of the gateway suite: the gateway in-process on SQLite and PostgreSQL, in front
of real service processes (the customer service, and a stand-in that misbehaves on cue)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from crm_gateway.main import create_app
from crm_gateway.models import metadata
from crm_gateway.settings import GatewaySettings, RateLimit
from crm_shared.pytest_plugin import ServiceSpec, service_fixtures
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    ServiceProcess,
    free_port,
    running_app,
    service_process,
    sqlite_url,
)

globals().update(service_fixtures(ServiceSpec("gateway", create_app, GatewaySettings, metadata)))

BOOTSTRAP_KEY = "test-bootstrap-admin-key-0123456789abcdef"
STUB = Path(__file__).parent / "stub_upstream.py"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def gateway_client(app: FastAPI, key: str | None = BOOTSTRAP_KEY) -> httpx.AsyncClient:
    """An HTTP client calling the app in-process, with this API key (None: no key)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://gateway.test",
        headers=bearer(key) if key else {},
        timeout=30,
    )


@asynccontextmanager
async def gateway_variant(settings: GatewaySettings, **changes: Any) -> AsyncIterator[FastAPI]:
    """Another gateway on the same database, with some settings changed."""
    app = create_app(settings.model_copy(update=changes))
    async with running_app(app):
        yield app


@dataclass
class Process:
    url: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_process(command: list[str], env: dict[str, str], port: int, log_path: Path) -> Process:
    """A process listening on `port`, once its `/ready` answers 200."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own modules
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
    started = Process(f"http://127.0.0.1:{port}", port, log_path, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{started.url}/ready", timeout=1).status_code == 200:
                return started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    started.stop()
    raise RuntimeError(f"not ready in time:\n{log_path.read_text()[-3000:]}")


def start_customer(database_url: str, log_dir: Path, port: int) -> Process:
    """The customer service on a port of the test's choosing (so it can come back on it)."""
    env = {
        "CUSTOMER_DATABASE_URL": database_url,
        "CUSTOMER_SERVICE_TOKEN": TEST_SERVICE_TOKEN,
        "CUSTOMER_PORT": str(port),
    }
    return start_process(
        [sys.executable, "-m", "crm_customer"], env, port, log_dir / f"customer-{port}.log"
    )


@contextmanager
def stub_process(log_dir: Path) -> Iterator[Process]:
    port = free_port()
    stub = start_process([sys.executable, str(STUB), str(port)], {}, port, log_dir / "stub.log")
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture(scope="session")
def customer_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The real customer service, on a SQLite file of its own, for the whole session."""
    directory = tmp_path_factory.mktemp("customer")
    with service_process(
        "crm_customer",
        "CUSTOMER_",
        database_url=sqlite_url(directory, "customer"),
        log_dir=directory,
    ) as service:
        yield service


@pytest.fixture(scope="session")
def stub_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with stub_process(tmp_path_factory.mktemp("stub")) as stub:
        yield stub


def base_settings(database_url: str, customer_url: str) -> GatewaySettings:
    """The gateway in front of the customer service; orders, analytics and recommend point
    at ports where nothing listens (those services are down)."""
    return GatewaySettings(
        database_url=database_url,
        service_token=SecretStr(TEST_SERVICE_TOKEN),
        customer_url=customer_url,
        orders_url=f"http://127.0.0.1:{free_port()}",
        analytics_url=f"http://127.0.0.1:{free_port()}",
        recommend_url=f"http://127.0.0.1:{free_port()}",
        bootstrap_admin_key=SecretStr(BOOTSTRAP_KEY),
        role_rate_limits={
            role: RateLimit(per_second=10_000, burst=10_000)
            for role in ("storefront", "backoffice", "marketing", "admin")
        },
        openapi_cache_seconds=0,
    )


@pytest.fixture(scope="session")  # replaces the plugin's: the gateway needs its services
def settings(database_url: str, customer_service: ServiceProcess) -> GatewaySettings:
    return base_settings(database_url, customer_service.url)


@pytest.fixture
async def admin(app: FastAPI, database: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client with the bootstrap admin key; the gateway's tables are empty."""
    async with gateway_client(app) as client:
        yield client


KeyFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def new_key(admin: httpx.AsyncClient) -> KeyFactory:
    """Creates a key with this role through the admin API and returns it."""

    async def create(role: str, name: str = "test key") -> str:
        response = await admin.post("/v1/admin/keys", json={"name": name, "role": role})
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    return create


ClientFactory = Callable[[str | None], httpx.AsyncClient]
VariantFactory = Callable[..., Any]


@pytest.fixture
def client_with(app: FastAPI) -> ClientFactory:
    """`async with client_with(key) as http:` calls the gateway with that key."""
    return lambda key: gateway_client(app, key)


@pytest.fixture
def variant(settings: GatewaySettings, database: Any) -> VariantFactory:
    """`async with variant(setting=value) as app:` a second gateway, settings changed."""
    return lambda **changes: gateway_variant(settings, **changes)


@pytest.fixture
def lone_gateway(tmp_path: Path, customer_service: ServiceProcess) -> VariantFactory:
    """`async with lone_gateway(setting=value) as app:` a gateway on a SQLite file of its
    own, for what does not depend on the gateway's database (it runs once, not per backend).
    """
    settings = base_settings(sqlite_url(tmp_path, "gateway"), customer_service.url)
    return lambda **changes: gateway_variant(settings, **changes)


class RestartableCustomer:
    """The customer service on a fixed port, stopped and started again by the test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = sqlite_url(directory, "customer")
        self.process: Process | None = None

    def start(self) -> None:
        self.process = start_customer(self.database_url, self.directory, self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@pytest.fixture
def restartable_customer(tmp_path: Path) -> Iterator[RestartableCustomer]:
    customer = RestartableCustomer(tmp_path)
    customer.start()
    try:
        yield customer
    finally:
        customer.stop()
