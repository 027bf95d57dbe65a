"""`crm keys create|list|revoke`: API keys, through the gateway's admin API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from crm_cli.stack import SERVICES
from crm_shared.schemas.gateway import ApiKeyRole

app = typer.Typer(
    help="Create, list and revoke API keys (needs an admin key).", no_args_is_help=True
)
console = Console()


def gateway_url() -> str:
    return next(service.url for service in SERVICES if service.name == "gateway")


GatewayOption = typer.Option(
    None, "--gateway", envvar="CRM_GATEWAY_URL", help="The gateway's URL [default: this stack's]."
)
AdminKeyOption = typer.Option(
    None,
    "--admin-key",
    envvar="CRM_ADMIN_KEY",
    help="An admin key [default: the stack's bootstrap key in VAR].",
)
VarOption = typer.Option(Path("var"), help="The stack's var/ directory (for its admin key).")


def _client(gateway: str | None, key: str | None, var: Path) -> httpx.Client:
    if key is None:
        stored = var / "gateway-admin-key"
        if not stored.exists():
            console.print("[red]No admin key: pass --admin-key or set CRM_ADMIN_KEY.[/red]")
            raise typer.Exit(2)
        key = stored.read_text().strip()
    return httpx.Client(
        base_url=gateway or gateway_url(),
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def _answer(response: httpx.Response) -> Any:
    if response.is_error:
        try:
            detail = response.json().get("detail") or response.json().get("title")
        except ValueError:
            detail = response.text
        console.print(f"[red]{response.status_code}: {detail}[/red]")
        raise typer.Exit(1)
    return response.json()


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return _answer(client.request(method, path, **kwargs))
    except httpx.TransportError as exc:
        console.print(f"[red]The gateway at {client.base_url} cannot be reached: {exc}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def create(
    role: ApiKeyRole = typer.Option(..., help="What the key may do."),
    name: str = typer.Option(..., help="Who or what uses the key."),
    gateway: str | None = GatewayOption,
    admin_key: str | None = AdminKeyOption,
    var: Path = VarOption,
) -> None:
    """Create a key; it is shown once, so keep it now."""
    with _client(gateway, admin_key, var) as client:
        created = _request(
            client, "POST", "/v1/admin/keys", json={"name": name, "role": role.value}
        )
    console.print(f"Created {created['role']} key {created['id']} ({created['name']}):")
    console.print(created["key"], style="bold", soft_wrap=True)
    console.print("It is not shown again: the gateway keeps only its hash.")


@app.command("list")
def list_keys(
    gateway: str | None = GatewayOption,
    admin_key: str | None = AdminKeyOption,
    var: Path = VarOption,
) -> None:
    """List every key, revoked ones included."""
    table = Table("id", "role", "name", "created", "revoked")
    with _client(gateway, admin_key, var) as client:
        cursor = None
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = _request(client, "GET", "/v1/admin/keys", params=params)
            for key in page["items"]:
                table.add_row(
                    key["id"], key["role"], key["name"], key["created_at"], key["revoked_at"] or ""
                )
            cursor = page["next_cursor"]
            if cursor is None:
                break
    console.print(table)


@app.command()
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (`crm_<id>_...`)."),
    gateway: str | None = GatewayOption,
    admin_key: str | None = AdminKeyOption,
    var: Path = VarOption,
) -> None:
    """Revoke a key: refused at once by this gateway, by every replica within seconds."""
    with _client(gateway, admin_key, var) as client:
        revoked = _request(client, "DELETE", f"/v1/admin/keys/{key_id}")
    console.print(f"Revoked {revoked['role']} key {revoked['id']} at {revoked['revoked_at']}.")
