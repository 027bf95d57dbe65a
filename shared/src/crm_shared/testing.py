"""Test support every service's suite uses: a real database per backend, an async client.

PostgreSQL comes from `CRM_TEST_POSTGRES_URL` (a server on which the tests may create and
drop databases; default: the local one), or from testcontainers when Docker is present
and no server answers. `CRM_TEST_REQUIRE_POSTGRES=1` (CI) turns an unreachable server
into a failure instead of a skip.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.engine import make_url

from crm_shared.db import Database
from crm_shared.middleware import SERVICE_TOKEN_HEADER

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_SERVICE_TOKEN = "test-service-token"  # noqa: S105 - test only


class PostgresUnavailable(RuntimeError):
    pass


def postgres_required() -> bool:
    return os.environ.get("CRM_TEST_REQUIRE_POSTGRES", "") in ("1", "true", "yes")


def _admin_url() -> str:
    return os.environ.get("CRM_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


async def _reachable(url: str) -> bool:
    try:
        connection = await asyncpg.connect(_dsn(url), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def postgres_server() -> Iterator[str]:
    """An admin URL of a PostgreSQL server for this test session."""
    url = _admin_url()
    if asyncio.run(_reachable(url)):
        yield url
        return
    if shutil.which("docker"):
        try:
            from testcontainers.postgres import PostgresContainer

            with PostgresContainer("postgres:16-alpine", driver=None) as container:
                yield container.get_connection_url()
                return
        except Exception as exc:
            raise PostgresUnavailable(f"{url} unreachable and Docker failed: {exc}") from exc
    raise PostgresUnavailable(f"PostgreSQL at {url} is unreachable")


@contextmanager
def fresh_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database for one test session; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(_dsn(admin_url), timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(directory: Path, name: str) -> str:
    return f"sqlite:///{directory / f'{name}.db'}"


async def empty_tables(database: Database, metadata: MetaData) -> None:
    """Remove every row, keeping the schema: each test starts from an empty database."""
    tables = [table.name for table in metadata.sorted_tables]
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            await connection.execute(text("PRAGMA defer_foreign_keys=ON"))
            for table in reversed(tables):
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our names


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its lifespan (migrations included) entered, as uvicorn would."""
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, token: str = TEST_SERVICE_TOKEN) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://service.test",
        headers={SERVICE_TOKEN_HEADER: token},
    )


async def count_rows(database: Database, table: str) -> int:
    async with database.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
        return int(result.scalar_one())


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and this type, if given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    if slug is not None:
        assert problem["type"] == f"urn:crm:problem:{slug}", problem
    return problem


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """A service running as a real uvicorn process, as in production."""

    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


@contextmanager
def service_process(
    module: str,
    env_prefix: str,
    *,
    database_url: str,
    log_dir: Path,
    token: str = TEST_SERVICE_TOKEN,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
    port: int | None = None,
) -> Iterator[ServiceProcess]:
    """`python -m <module>` on a free port (or `port`, to restart a service where its
    callers expect it), ready to serve; stopped (SIGTERM) afterwards."""
    port = port or free_port()
    env = {
        **os.environ,
        f"{env_prefix}DATABASE_URL": database_url,
        f"{env_prefix}SERVICE_TOKEN": token,
        f"{env_prefix}PORT": str(port),
        **(extra_env or {}),
    }
    log_path = log_dir / f"{module}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", module], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    service = ServiceProcess(f"http://127.0.0.1:{port}", log_path, process)
    try:
        _wait_ready(service, ready_timeout)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(service: ServiceProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"service exited early:\n{service.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{service.url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"service not ready after {timeout}s:\n{service.log_path.read_text()[-3000:]}"
    )


def sync_dependencies(app: FastAPI) -> list[str]:
    """Dependencies of the app's routes that are plain functions or classes.

    FastAPI runs those in a thread pool: a thread hop on every request for nothing.
    """
    found: list[str] = []

    def visit(routes: Iterable[Any]) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                visit(route.original_router.routes)
            elif isinstance(route, APIRoute):
                check(route.path, route.dependant)

    def check(path: str, dependant: Any) -> None:
        for dependency in dependant.dependencies:
            call = dependency.call
            if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)):
                found.append(f"{path}: {getattr(call, '__qualname__', call)}")
            check(path, dependency)

    visit(app.routes)
    return found


def undeclared_schemas(spec: dict[str, Any]) -> set[str]:
    """Schemas an OpenAPI document refers to but does not declare."""
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)))
    return refs - set(spec.get("components", {}).get("schemas", {}))


def api_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The `/v1` operations of an OpenAPI document: (method, path, operation)."""
    return [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/v1")
        for method, operation in methods.items()
    ]


def undeclared_problems(spec: dict[str, Any]) -> list[str]:
    """What the `/v1` operations fail of the API conventions: a summary; 401, 422 and 503
    declared; a 2xx answer; every 4xx and 5xx as problem+json; the Problem schema."""
    failures = []
    for method, path, operation in api_operations(spec):
        where = f"{method.upper()} {path}"
        if not operation.get("summary"):
            failures.append(f"{where} has no summary")
        statuses = set(operation["responses"])
        if not {"401", "422", "503"} <= statuses:
            failures.append(f"{where} declares {sorted(statuses)}")
        if not any(status.startswith("2") for status in statuses):
            failures.append(f"{where} has no 2xx answer")
        for status, response in operation["responses"].items():
            content = response.get("content", {})
            if status.startswith(("4", "5")) and "application/problem+json" not in content:
                failures.append(f"{where} {status} is not problem+json")
    if "Problem" not in spec.get("components", {}).get("schemas", {}):
        failures.append("no Problem schema")
    return failures


async def migration_differences(database: Database, metadata: MetaData) -> list[object]:
    """How the migrated schema differs from the tables the models describe."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as connection:
        return await connection.run_sync(differences)


def start_demo_stack(var: Path, ports: dict[str, int], customers: int) -> subprocess.Popen[str]:
    """`crm run` as a real process: the whole stack under `var` on the given ports (one per
    process, the gateway's included), seeded with a demo shop of `customers` customers."""
    moved = {f"{name.upper()}_PORT": str(port) for name, port in ports.items()}
    return subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "crm_cli",
            "run",
            "--var",
            str(var),
            "--demo-customers",
            str(customers),
        ],
        env={**os.environ, **moved, "COLUMNS": "400"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_output(process: subprocess.Popen[str], text: str, timeout: float = 300) -> str:
    """What `process` printed up to and including the first line holding `text`."""
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return "".join(seen)
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError(f"exited before {text!r}:\n{''.join(seen)}")
