"""`crm`: the operator command line."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType

import httpx
import typer
from rich.console import Console

from crm_cli import demo, importers, keys
from crm_cli.importers import ImportFailed
from crm_cli.stack import SERVICES, Stack, admin_key, service_token

app = typer.Typer(help="Operate the CRM platform.", no_args_is_help=True)
app.add_typer(keys.app, name="keys")
app.add_typer(importers.app, name="import")
console = Console()


@app.callback()
def main() -> None:
    """Operate the CRM platform."""


@app.command()
def run(
    var: Path = typer.Option(Path("var"), help="Where the SQLite files, logs and token live."),
    seed: bool = typer.Option(True, help="Load the demo shop on the first start."),
    demo_customers: int = typer.Option(demo.DEMO_CUSTOMERS, min=1, help="Size of the demo shop."),
    ready_timeout: float = typer.Option(
        180.0,
        min=1,
        help="Seconds the services may take to start (a cold start on a busy "
        "machine imports the maths libraries slowly).",
    ),
) -> None:
    """Start the whole stack on SQLite with demo data; Ctrl-C stops it."""
    token = service_token(var)
    bootstrap_key = admin_key(var)
    stack = Stack(SERVICES, var, token, bootstrap_key)
    stopping = False
    serving = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if not serving:  # still starting or seeding: break off what runs now
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        with console.status("Starting services..."):
            stack.start()
            stack.wait_ready(ready_timeout)
        if seed and demo.seed_once(var, token, console, demo_customers):
            demo.start_first_runs(bootstrap_key, console)
        demo.print_welcome(console, token, var, demo.demo_keys(var, bootstrap_key))
    except KeyboardInterrupt:
        stack.stop()
        console.print(f"Stopped while starting. The data so far stays in {var}.")
        raise typer.Exit(130) from None
    except RuntimeError as exc:
        stack.stop()
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    except (ImportFailed, httpx.HTTPError) as exc:
        stack.stop()
        console.print(f"[red]The demo could not be loaded: {exc}[/red]")
        console.print(f"The data so far stays in {var}; the next start goes on from there.")
        raise typer.Exit(1) from exc
    serving = True
    try:
        while not stopping:
            if crashed := stack.exited():
                console.print(f"[red]{', '.join(crashed)} stopped; see {var / 'log'}[/red]")
                break
            time.sleep(0.5)
    finally:
        with console.status("Stopping..."):
            stack.stop()
        console.print("Stopped. The data stays in", var, "for the next start.")
