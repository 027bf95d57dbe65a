"""`crm run` (what `make run` calls): starts every service and the gateway, loads the demo
shop once, prints calls that work, and stops everything on Ctrl-C."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_shared import synthetic
from crm_shared.testing import free_port, start_demo_stack, wait_for_output

pytestmark = pytest.mark.e2e
SERVICES = ("customer", "orders", "analytics", "recommend", "gateway")
DEMO_CUSTOMERS = 300


@pytest.fixture
def ports() -> dict[str, int]:
    """A free port per process, the gateway's included: nothing of the default ports."""
    return {name: free_port() for name in SERVICES}


def _interrupt(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _feed(client: httpx.Client, path: str) -> Iterator[dict[str, object]]:
    with client.stream("GET", path) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line:
                yield json.loads(line)


def _counts(gateway: str, admin_key: str) -> dict[str, int]:
    """What the stack holds, read through the gateway's export routes."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=gateway, headers=headers, timeout=60) as client:
        customers = {
            str(change["id"])
            for change in _feed(client, "/v1/customers/export")
            if change["change"] == "upsert"
        }
        orders = {str(line["order_id"]) for line in _feed(client, "/v1/export/order-lines")}
        return {
            "customers": len(customers),
            "products": sum(1 for _ in _feed(client, "/v1/export/products")),
            "orders": len(orders),
            "interactions": sum(1 for _ in _feed(client, "/v1/export/interactions")),
        }


def test_run_starts_everything_loads_the_demo_once_and_stops_cleanly(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    var = tmp_path / "var"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    first = start_demo_stack(var, ports, DEMO_CUSTOMERS)
    try:
        output = wait_for_output(first, "Ctrl-C stops everything")
        assert "Loaded the demo shop" in output
        for name, port in ports.items():
            assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200, name
        token = (var / "service-token").read_text().strip()
        assert token in output, "the internal URLs are printed with the stack's token"
        keys = json.loads((var / "demo-keys.json").read_text())
        for role in ("storefront", "backoffice", "marketing", "admin"):
            assert f"[{role}] curl" in output, f"an example call for {role}"
            assert keys[role] in output

        with httpx.Client(
            base_url=gateway, headers={"Authorization": f"Bearer {keys['admin']}"}
        ) as admin:
            offered = admin.get("/openapi.json").json()["paths"]
        for service, path in (("analytics", "/v1/runs"), ("recommend", "/v1/models/training-runs")):
            if "post" in offered.get(path, {}):
                assert f"Started the first {service} run" in output

        for example in re.findall(r"\[\w+\] curl -s -H \"([^\"]+)\" '([^']+)'$", output, re.M):
            header, url = example
            name, _, value = header.partition(": ")
            answer = httpx.get(url, headers={name: value}, timeout=30)
            assert answer.status_code not in (401, 403), (url, answer.text)
            assert answer.status_code < 500, (url, answer.text)

        loaded = json.loads((var / "demo-seeded").read_text())
        shop = synthetic.shop(
            loaded["customers"], seed=loaded["seed"], end=dt.datetime.fromisoformat(loaded["end"])
        )
        expected = {
            "customers": DEMO_CUSTOMERS,
            "products": len(shop.products),
            "orders": len(shop.orders),
            "interactions": len(shop.interactions),
        }
        assert expected["orders"] > DEMO_CUSTOMERS
        assert _counts(gateway, keys["admin"]) == expected

        backoffice = {"Authorization": f"Bearer {keys['backoffice']}"}
        refunded = httpx.get(
            f"{gateway}/v1/orders", params={"status": "refunded", "limit": 5}, headers=backoffice
        )
        assert refunded.status_code == 200
        assert refunded.json()["items"], "the demo has refunded orders"
        storefront = {"Authorization": f"Bearer {keys['storefront']}"}
        forbidden = httpx.get(f"{gateway}/v1/customers", headers=storefront)
        assert forbidden.status_code == 403
    finally:
        _interrupt(first)
    for name, port in ports.items():
        assert not _listening(port), f"{name} still listens after Ctrl-C"
        assert (var / "log" / f"{name}.log").stat().st_size > 0

    second = start_demo_stack(var, ports, DEMO_CUSTOMERS)
    try:
        output = wait_for_output(second, "Ctrl-C stops everything")
        assert "Loaded" not in output
        assert json.loads((var / "demo-keys.json").read_text()) == keys, "the keys are kept"
        assert _counts(gateway, keys["admin"]) == expected
    finally:
        _interrupt(second)
