"""Fixtures of the reliability suite: the whole stack as real processes on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx
import pytest

from crm_shared.middleware import SERVICE_TOKEN_HEADER
from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    ServiceProcess,
    fresh_postgres_database,
    service_process,
    sqlite_url,
)

BOOTSTRAP_KEY = "reliability-bootstrap-admin-key-0123456789"
# Generous: the whole stack starts at once on a machine that may be busy.
READY_TIMEOUT_SECONDS = 180.0
# Each service: its module and env prefix; the order is the start order.
SERVICE_MODULES = {
    "customer": ("crm_customer", "CUSTOMER_"),
    "orders": ("crm_orders", "ORDERS_"),
    "analytics": ("crm_analytics", "ANALYTICS_"),
    "recommend": ("crm_recommend", "RECOMMEND_"),
}


@dataclass
class Stack:
    """The four services and the gateway in front of them, each a real process."""

    gateway: ServiceProcess
    services: dict[str, ServiceProcess]
    database_urls: dict[str, str]
    bootstrap_key: str = BOOTSTRAP_KEY
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, role: str) -> str:
        """A fresh API key of the role, made through the gateway's admin API."""
        created = httpx.post(
            f"{self.gateway.url}/v1/admin/keys",
            json={"name": f"reliability {role}", "role": role},
            headers={"Authorization": f"Bearer {self.bootstrap_key}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        return key

    def revoke(self, key: str) -> None:
        key_id = key.split("_")[1]
        revoked = httpx.delete(
            f"{self.gateway.url}/v1/admin/keys/{key_id}",
            headers={"Authorization": f"Bearer {self.bootstrap_key}"},
            timeout=30,
        )
        assert revoked.status_code == 200, revoked.text

    def service_client(self, name: str) -> httpx.Client:
        """A client of one service behind the gateway, carrying the service token."""
        return httpx.Client(
            base_url=self.services[name].url,
            headers={SERVICE_TOKEN_HEADER: TEST_SERVICE_TOKEN},
            timeout=60,
        )


@pytest.fixture(scope="session")
def crm_stack(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service on a fresh PostgreSQL database of its own, and the gateway (SQLite
    keys store) routing to them. Background schedules are off so the data only changes
    through the calls a test makes; the orders service follows erasures every second, which
    changes nothing until a test erases a customer."""
    log_dir = tmp_path_factory.mktemp("stack")
    with ExitStack() as stack:
        database_urls = {
            name: stack.enter_context(
                fresh_postgres_database(postgres_admin_url, f"crm_rel_{name}")
            )
            for name in SERVICE_MODULES
        }
        services: dict[str, ServiceProcess] = {}
        for name, (module, prefix) in SERVICE_MODULES.items():
            # Started in dependency order: the services a service calls are already up.
            siblings = {f"{prefix}{other.upper()}_URL": up.url for other, up in services.items()}
            services[name] = stack.enter_context(
                service_process(
                    module,
                    prefix,
                    database_url=database_urls[name],
                    log_dir=log_dir,
                    ready_timeout=READY_TIMEOUT_SECONDS,
                    extra_env={
                        **siblings,
                        "ANALYTICS_RUN_INTERVAL_SECONDS": "0",
                        "RECOMMEND_SYNC_INTERVAL_SECONDS": "0",
                        "RECOMMEND_TRAINING_INTERVAL_SECONDS": "0",
                        "ORDERS_ERASURE_SYNC_INTERVAL_SECONDS": "1",
                        "RECOMMEND_MODEL_DIR": str(log_dir / "models"),
                    },
                )
            )
        gateway = stack.enter_context(
            service_process(
                "crm_gateway",
                "GATEWAY_",
                database_url=sqlite_url(log_dir, "gateway"),
                log_dir=log_dir,
                ready_timeout=READY_TIMEOUT_SECONDS,
                extra_env={
                    **{f"GATEWAY_{name.upper()}_URL": up.url for name, up in services.items()},
                    "GATEWAY_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
                    "GATEWAY_RATE_LIMIT_PER_SECOND": "100000",
                    "GATEWAY_RATE_LIMIT_BURST": "100000",
                },
            )
        )
        yield Stack(gateway, services, database_urls)
