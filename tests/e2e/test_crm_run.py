"""`crm run` (what `make run` calls): starts the stack, loads the demo, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from crm_shared.testing import free_port

pytestmark = pytest.mark.e2e


def _start(var: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "crm_cli", "run", "--var", str(var), "--demo-customers", "300"],
        env={**os.environ, "CUSTOMER_PORT": str(port), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(process: subprocess.Popen[str], text: str, timeout: float = 90) -> str:
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return "".join(seen)
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError(f"exited before {text!r}:\n{''.join(seen)}")


def _interrupt(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0


def test_run_loads_the_demo_once_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    var = tmp_path / "var"
    first = _start(var, port)
    try:
        output = _wait_for(first, "Ctrl-C stops everything")
        assert "Loaded 300 demo customers." in output
        token = (var / "service-token").read_text().strip()
        assert token in output, "the printed example calls carry the stack's token"
        headers = {"X-Service-Token": token}
        page = httpx.get(f"http://127.0.0.1:{port}/v1/customers?limit=500", headers=headers)
        assert page.status_code == 200
        assert len(page.json()["items"]) == 300
    finally:
        _interrupt(first)
    assert (var / "log" / "customer.log").stat().st_size > 0

    second = _start(var, port)
    try:
        output = _wait_for(second, "Ctrl-C stops everything")
        assert "Loaded" not in output
        page = httpx.get(f"http://127.0.0.1:{port}/v1/customers?limit=500", headers=headers)
        assert len(page.json()["items"]) == 300
    finally:
        _interrupt(second)
