"""The demo shop `crm run` loads on its first start, and the calls it suggests."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress

from crm_cli.stack import SERVICES
from crm_shared import synthetic
from crm_shared.json import dumps
from crm_shared.middleware import SERVICE_TOKEN_HEADER
from crm_shared.schemas.gateway import ApiKeyRole

DEMO_CUSTOMERS = 5000


def customer_url() -> str:
    return next(s.url for s in SERVICES if s.name == "customer")


def gateway_url() -> str:
    return next(s.url for s in SERVICES if s.name == "gateway")


def demo_keys(var: Path, bootstrap_key: str) -> dict[str, str]:
    """A key per role, made on the first start and kept in var/demo-keys.json (a demo
    convenience: real keys are shown once and kept only by whoever asked for them)."""
    path = var / "demo-keys.json"
    headers = {"Authorization": f"Bearer {bootstrap_key}"}
    with httpx.Client(base_url=gateway_url(), headers=headers, timeout=10) as client:
        if path.exists():
            kept: dict[str, str] = json.loads(path.read_text())
            live = {
                key["id"]
                for key in client.get("/v1/admin/keys", params={"limit": 500}).json()["items"]
                if key["revoked_at"] is None
            }
            if all(key.split("_")[1] in live for key in kept.values()):
                return kept
        keys = {}
        for role in ApiKeyRole:
            created = client.post("/v1/admin/keys", json={"name": f"demo {role}", "role": role})
            created.raise_for_status()
            keys[role.value] = created.json()["key"]
    path.write_text(json.dumps(keys, indent=2))
    path.chmod(0o600)
    return keys


def seed_once(var: Path, token: str, console: Console, customers: int = DEMO_CUSTOMERS) -> None:
    """Load the demo shop unless this var/ already holds it."""
    marker = var / "demo-seeded"
    if marker.exists():
        return
    headers = {SERVICE_TOKEN_HEADER: token, "content-type": "application/x-ndjson"}
    with (
        httpx.Client(base_url=customer_url(), headers=headers, timeout=120) as client,
        Progress(console=console, transient=True) as progress,
    ):
        task = progress.add_task("Loading demo customers", total=customers)
        batch: list[bytes] = []
        for customer in synthetic.customers(customers, seed=7):
            batch.append(dumps(customer))
            if len(batch) == 1000:
                _import(client, batch)
                progress.advance(task, len(batch))
                batch = []
        if batch:
            _import(client, batch)
            progress.advance(task, len(batch))
    marker.write_text("1")
    console.print(f"Loaded {customers} demo customers.")


def _import(client: httpx.Client, lines: list[bytes]) -> None:
    response = client.post(
        "/v1/customers/import", params={"on_error": "abort"}, content=b"\n".join(lines)
    )
    response.raise_for_status()


def print_welcome(console: Console, token: str, var: Path, keys: dict[str, str]) -> None:
    console.print()
    console.print("[bold green]The CRM stack is up.[/bold green]")
    api = gateway_url()
    console.print(f"  gateway    {api}  (API docs: {api}/docs)")
    for service in SERVICES:
        if service.name != "gateway":
            console.print(
                f"  {service.name:<10} {service.url}  (internal: X-Service-Token {token})"
            )
    console.print(f"  logs       {var / 'log'}/")
    console.print()
    console.print(f"Demo keys, one per role (kept in {var / 'demo-keys.json'}):")
    for role, key in keys.items():
        console.print(f"  {role:<10} {key}", soft_wrap=True)
    console.print()
    console.print("Try:")
    h = f'-H "Authorization: Bearer {keys[ApiKeyRole.backoffice]}"'
    console.print(f"  curl -s {h} '{api}/v1/customers?limit=3&country=DE'", soft_wrap=True)
    console.print(f"  curl -s {h} '{api}/v1/tags'", soft_wrap=True)
    console.print(
        f"  curl -s {h} -H 'content-type: application/json' -d "
        """'{"email": "ada@example.com", "first_name": "Ada", "tags": ["vip"]}' """
        f"{api}/v1/customers",
        soft_wrap=True,
    )
    console.print('  crm keys create --role storefront --name "web shop"', soft_wrap=True)
    console.print()
    console.print("Ctrl-C stops everything; the data stays for the next start.")
