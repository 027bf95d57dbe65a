"""The demo shop `crm run` loads on its first start, and the calls it suggests."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crm_cli.datasets import Dataset, RefundPlan
from crm_cli.importers import Importer, ImportFailed, ImportState, Services
from crm_cli.stack import SERVICES
from crm_shared import synthetic
from crm_shared.schemas.gateway import ApiKeyRole

DEMO_CUSTOMERS = 2500
DEMO_SEED = 7
# The first scoring and training, started once the shop is loaded (when the services
# offer them): (service, path) through the gateway.
FIRST_RUNS = (("analytics", "/v1/runs"), ("recommend", "/v1/models/training-runs"))


def service_url(name: str) -> str:
    return next(service.url for service in SERVICES if service.name == name)


def gateway_url() -> str:
    return service_url("gateway")


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


def demo_dataset(
    customers: int, end: dt.datetime, seed: int = DEMO_SEED
) -> tuple[Dataset, list[dict[str, Any]]]:
    """The synthetic shop as the importer's dataset, and its support tickets."""
    shop = synthetic.shop(customers, seed=seed, end=end)
    dataset = Dataset(
        name="demo",
        customers={customer["external_ref"]: customer for customer in shop.customers},
        products={product["sku"]: product for product in shop.products},
        orders=shop.orders,
        refunds=[RefundPlan(plan.key, plan.order_ref, plan.lines) for plan in shop.refunds],
        interactions=shop.interactions,
    )
    return dataset, shop.tickets


def seed_once(var: Path, token: str, console: Console, customers: int = DEMO_CUSTOMERS) -> bool:
    """Load the demo shop unless this var/ already holds it; True when it was loaded now.

    Every step is safe to repeat (rows carry their keys, tickets an Idempotency-Key), so
    a start interrupted while seeding simply seeds again.
    """
    marker = var / "demo-seeded"
    if marker.exists():
        return False
    with console.status("Making the demo shop..."):
        end = synthetic.default_end()
        dataset, tickets = demo_dataset(customers, end=end)
    services = Services(service_url("customer"), service_url("orders"), token)
    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            importer = Importer(
                dataset, services, ImportState(var / "imports" / "demo.json", True), progress
            )
            outcome = importer.run()
            _open_tickets(services, tickets, importer.customer_ids, progress)
    finally:
        services.close()
    if outcome.problem_count:
        raise ImportFailed(f"the demo shop was refused in part: {outcome.problems[:5]}")
    # What was loaded, so the same shop can be made again (by tests, for instance).
    marker.write_text(
        json.dumps({"seed": DEMO_SEED, "customers": customers, "end": end.isoformat()})
    )
    counts = {stage.name: stage.inserted + stage.duplicates for stage in outcome.stages}
    console.print(
        f"Loaded the demo shop: {len(dataset.customers)} customers, "
        f"{len(dataset.products)} products, {len(dataset.orders)} orders, "
        f"{counts.get('refunds', 0)} partial refunds, {len(dataset.interactions)} "
        f"interactions, {len(tickets)} tickets."
    )
    return True


def _open_tickets(
    services: Services,
    tickets: list[dict[str, Any]],
    ids: dict[str, str],
    progress: Progress,
) -> None:
    task = progress.add_task("tickets", total=len(tickets))
    for ticket in tickets:
        customer_id = ids.get(ticket["customer_ref"])
        if customer_id is None:
            raise ImportFailed(f"customer {ticket['customer_ref']} of a demo ticket is missing")
        body = {
            "customer_id": customer_id,
            **{name: ticket[name] for name in ("kind", "subject", "body")},
        }
        response = services.call(
            services.customer,
            "POST",
            "/v1/tickets",
            json=body,
            headers={"Idempotency-Key": ticket["key"]},
        )
        if response.status_code != 201:
            raise ImportFailed(f"POST /v1/tickets: {response.status_code} {response.text[:300]}")
        progress.advance(task)


def start_first_runs(bootstrap_key: str, console: Console) -> None:
    """Start the first scoring and model training, where the services offer them."""
    headers = {"Authorization": f"Bearer {bootstrap_key}"}
    with httpx.Client(base_url=gateway_url(), headers=headers, timeout=30) as client:
        for service, path in FIRST_RUNS:
            try:
                offered = httpx.get(f"{service_url(service)}/openapi.json", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                continue
            if "post" not in offered.get("paths", {}).get(path, {}):
                continue
            response = client.post(path, json={})
            if response.is_success:
                run = response.json()
                console.print(
                    f"Started the first {service} run {run.get('id', '')} "
                    f"(GET {path}/{run.get('id', '<id>')} follows it)."
                )
            else:
                console.print(
                    f"[yellow]{service} did not start its first run: "
                    f"{response.status_code} {response.text[:200]}[/yellow]"
                )


@dataclass(frozen=True)
class Example:
    role: ApiKeyRole
    method: str
    template: str  # as in the OpenAPI document
    query: str = ""
    body: str = ""


# What each role is for, one call at a time; shown when the stack offers the route.
EXAMPLES = (
    Example(ApiKeyRole.backoffice, "GET", "/v1/customers", "?limit=3&country=DE"),
    Example(ApiKeyRole.backoffice, "GET", "/v1/customers/{customer_id}/360"),
    Example(ApiKeyRole.backoffice, "GET", "/v1/customers/{customer_id}/orders/summary"),
    Example(ApiKeyRole.backoffice, "GET", "/v1/orders", "?status=refunded&limit=2"),
    Example(ApiKeyRole.backoffice, "GET", "/v1/customers/{customer_id}/interactions", "?limit=5"),
    Example(
        ApiKeyRole.backoffice,
        "POST",
        "/v1/customers",
        body='{"email": "ada@example.com", "first_name": "Ada", "tags": ["vip"]}',
    ),
    Example(ApiKeyRole.storefront, "GET", "/v1/products", "?category=electronics&limit=3"),
    Example(ApiKeyRole.storefront, "GET", "/v1/products/popular", "?limit=5"),
    Example(ApiKeyRole.storefront, "GET", "/v1/products/{product_id}/similar", "?limit=5"),
    Example(ApiKeyRole.storefront, "GET", "/v1/recommendations/{customer_id}", "?limit=5"),
    Example(ApiKeyRole.storefront, "GET", "/v1/recommendations/customers/{customer_id}"),
    Example(ApiKeyRole.marketing, "GET", "/v1/segments"),
    Example(ApiKeyRole.marketing, "GET", "/v1/customers/{customer_id}/scores"),
    Example(ApiKeyRole.marketing, "GET", "/v1/scores", "?limit=3"),
    Example(ApiKeyRole.admin, "GET", "/v1/runs"),
    Example(ApiKeyRole.admin, "GET", "/v1/models/training-runs"),
    Example(ApiKeyRole.admin, "GET", "/v1/admin/keys"),
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def example_calls(keys: dict[str, str]) -> list[str]:
    """curl lines through the gateway for the routes it offers now, with ids of the demo
    shop filled in (a customer who ordered and a product they bought)."""
    api = gateway_url()
    headers = {"Authorization": f"Bearer {keys[ApiKeyRole.admin]}"}
    with httpx.Client(base_url=api, headers=headers, timeout=10) as client:
        paths: dict[str, Any] = client.get("/openapi.json").json().get("paths", {})
        ids: dict[str, str] = {}
        order = client.get("/v1/orders", params={"limit": 1})
        if order.is_success and order.json()["items"]:
            first = order.json()["items"][0]
            ids = {
                "customer_id": first["customer_id"],
                "product_id": first["lines"][0]["product_id"],
            }
    calls = []
    for example in EXAMPLES:
        if example.method.lower() not in paths.get(example.template, {}):
            continue
        names = _PLACEHOLDER.findall(example.template)
        if any(name not in ids for name in names):
            continue
        path = _PLACEHOLDER.sub(lambda m: ids[m[1]], example.template) + example.query
        parts = [f'curl -s -H "Authorization: Bearer {keys[example.role]}"']
        if example.method != "GET":
            parts.append(f"-H 'content-type: application/json' -d '{example.body}'")
        parts.append(f"'{api}{path}'")
        calls.append(f"[{example.role}] " + " ".join(parts))
    return calls


def print_welcome(console: Console, token: str, var: Path, keys: dict[str, str]) -> None:
    console.print()
    console.print("[bold green]The CRM stack is up.[/bold green]")
    api = gateway_url()
    console.print(f"  gateway    {api}  (API docs: {api}/docs)")
    console.print(f"  dashboard  {api}/dashboard/  (sign in with the marketing or admin key)")
    for service in SERVICES:
        if service.name != "gateway":
            console.print(
                f"  {service.name:<10} {service.url}  (internal: X-Service-Token {token})",
                soft_wrap=True,
            )
    console.print(f"  logs       {var / 'log'}/")
    console.print()
    console.print(f"Demo keys, one per role (kept in {var / 'demo-keys.json'}):")
    for role, key in keys.items():
        console.print(f"  {role:<10} {key}", soft_wrap=True)
    console.print()
    console.print("Try, through the gateway with the key of each role:")
    for call in example_calls(keys):
        console.print(f"  {call}", soft_wrap=True, highlight=False, markup=False)
    console.print('  crm keys create --role storefront --name "web shop"', soft_wrap=True)
    console.print()
    console.print("Ctrl-C stops everything; the data stays for the next start.")
