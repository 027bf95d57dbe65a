"""The demo shop `crm run` loads on its first start, and the calls it suggests."""

from __future__ import annotations

from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress

from crm_cli.stack import SERVICES
from crm_shared import synthetic
from crm_shared.json import dumps
from crm_shared.middleware import SERVICE_TOKEN_HEADER

DEMO_CUSTOMERS = 5000


def customer_url() -> str:
    return next(s.url for s in SERVICES if s.name == "customer")


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


def print_welcome(console: Console, token: str, var: Path) -> None:
    console.print()
    console.print("[bold green]The CRM stack is up.[/bold green]")
    for service in SERVICES:
        console.print(f"  {service.name:<10} {service.url}  (docs: {service.url}/docs)")
    console.print(f"  logs       {var / 'log'}/")
    console.print()
    console.print("Try:")
    h = f'-H "X-Service-Token: {token}"'
    api = customer_url()
    console.print(f"  curl -s {h} '{api}/v1/customers?limit=3&country=DE'", soft_wrap=True)
    console.print(f"  curl -s {h} '{api}/v1/tags'", soft_wrap=True)
    console.print(
        f"  curl -s {h} -H 'content-type: application/json' -d "
        """'{"email": "ada@example.com", "first_name": "Ada", "tags": ["vip"]}' """
        f"{api}/v1/customers",
        soft_wrap=True,
    )
    console.print()
    console.print("Ctrl-C stops everything; the data stays for the next start.")
