"""The embedded stack: every service as a uvicorn process on SQLite files under var/."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    default_port: int
    env_prefix: str

    @property
    def port(self) -> int:
        """The default port, unless the environment moves it (`CUSTOMER_PORT=9001`)."""
        return int(os.environ.get(f"{self.env_prefix}PORT", self.default_port))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# In the order they start and are awaited; the gateway, which needs the others, last.
SERVICES: tuple[Service, ...] = (
    Service("customer", "crm_customer", 8001, "CUSTOMER_"),
    Service("orders", "crm_orders", 8002, "ORDERS_"),
    Service("analytics", "crm_analytics", 8003, "ANALYTICS_"),
    Service("recommend", "crm_recommend", 8004, "RECOMMEND_"),
    Service("gateway", "crm_gateway", 8000, "GATEWAY_"),
)
# The services the gateway routes to.
UPSTREAMS = ("customer", "orders", "analytics", "recommend")


def service_token(var: Path) -> str:
    """The stack's internal token: made once, kept in var/ so restarts agree on it."""
    path = var / "service-token"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def admin_key(var: Path) -> str:
    """The gateway's bootstrap admin key: made once, kept in var/ (the CLI's keys commands
    and the demo keys use it)."""
    path = var / "gateway-admin-key"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def gateway_environment(services: Sequence[Service], bootstrap_key: str) -> dict[str, str]:
    """Where the gateway finds this stack's services; those it does not run are left out."""
    running = {service.name: service.url for service in services}
    environment = {f"GATEWAY_{name.upper()}_URL": running.get(name, "") for name in UPSTREAMS}
    environment["GATEWAY_REQUIRED_UPSTREAMS"] = ",".join(n for n in UPSTREAMS if n in running)
    environment["GATEWAY_BOOTSTRAP_ADMIN_KEY"] = bootstrap_key
    return environment


def sibling_environment(service: Service, services: Sequence[Service]) -> dict[str, str]:
    """Where a service finds the others (`ANALYTICS_ORDERS_URL=...`), so moved ports
    follow. Each service reads the URLs it has settings for and ignores the rest."""
    return {
        f"{service.env_prefix}{other.name.upper()}_URL": other.url
        for other in services
        if other.name in UPSTREAMS and other != service
    }


def service_environment(
    service: Service, services: Sequence[Service], var: Path, token: str, bootstrap_key: str
) -> dict[str, str]:
    """The environment one process starts with: the operator's own variables win, except
    the token and port, which the stack decides."""
    prefix = service.env_prefix
    defaults = {f"{prefix}DATABASE_URL": f"sqlite:///{var / service.name}.db"}
    if service.name == "recommend":
        defaults[f"{prefix}MODEL_DIR"] = str(var / "recommend-models")
    if service.name == "gateway":
        defaults.update(gateway_environment(services, bootstrap_key))
    else:
        defaults.update(sibling_environment(service, services))
    return {
        **defaults,
        **os.environ,
        f"{prefix}SERVICE_TOKEN": token,
        f"{prefix}PORT": str(service.port),
    }


class Stack:
    """Starts, watches and stops the service processes."""

    def __init__(
        self, services: Sequence[Service], var: Path, token: str, bootstrap_key: str = ""
    ) -> None:
        self.services = services
        self.var = var
        self.token = token
        self.bootstrap_key = bootstrap_key
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        logs = self.var / "log"
        logs.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            env = service_environment(
                service, self.services, self.var, self.token, self.bootstrap_key
            )
            log = (logs / f"{service.name}.log").open("ab")
            self.processes[service.name] = subprocess.Popen(  # noqa: S603 - our own command
                [sys.executable, "-m", service.module],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        pending = list(self.services)
        while pending:
            service = pending[0]
            process = self.processes[service.name]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with {process.returncode}; "
                    f"see {self.var / 'log' / service.name}.log"
                )
            try:
                if httpx.get(f"{service.url}/ready", timeout=1.0).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} was not ready within {timeout_seconds:.0f}s")
            time.sleep(0.2)

    def exited(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def stop(self, timeout_seconds: float = 10.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_seconds
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
