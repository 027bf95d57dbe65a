"""Bodies stream through a real gateway process both ways: nothing is held whole.

The gateway runs under uvicorn as in production (the in-process test client would buffer
answers itself), in front of a stand-in service that streams slowly and reports when
the pieces of a body reach it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_shared.testing import ServiceProcess, service_process, sqlite_url

BOOTSTRAP_KEY = "test-bootstrap-admin-key-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def gateway(stub_service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    directory = tmp_path_factory.mktemp("gateway")
    with service_process(
        "crm_gateway",
        "GATEWAY_",
        database_url=sqlite_url(directory, "gateway"),
        log_dir=directory,
        extra_env={
            "GATEWAY_CUSTOMER_URL": stub_service.url,
            "GATEWAY_ORDERS_URL": "",
            "GATEWAY_ANALYTICS_URL": "",
            "GATEWAY_RECOMMEND_URL": "",
            "GATEWAY_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
        },
    ) as process:
        yield process


def peak_memory_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_an_answer_reaches_the_client_piece_by_piece(gateway: ServiceProcess) -> None:
    arrivals = []
    started = time.time()
    with (
        httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=10) as http,
        http.stream("GET", "/v1/customers/export") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        for line in response.iter_lines():
            if line:
                arrivals.append((time.time(), httpx.Response(200, content=line).json()))
    assert [payload["line"] for _, payload in arrivals] == [0, 1, 2, 3, 4]
    first_at, _ = arrivals[0]
    last_at, _ = arrivals[-1]
    # The service takes 2 s to send five lines: the first must not wait for the last.
    assert first_at - started < 1.0
    assert last_at - started >= 2.0
    for received_at, payload in arrivals:
        assert received_at - payload["sent_at"] < 0.4


def test_a_request_body_reaches_the_service_while_the_client_still_sends(
    gateway: ServiceProcess,
) -> None:
    last_piece_at = 0.0

    def pieces() -> Iterator[bytes]:
        nonlocal last_piece_at
        yield b"email\n"
        time.sleep(1.0)
        yield b"a@example.com\n"
        time.sleep(1.0)
        last_piece_at = time.time()
        yield b"b@example.com\n"

    with httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=10) as http:
        response = http.post(
            "/v1/customers/import", content=pieces(), headers={"content-type": "text/csv"}
        )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["bytes"] == len(b"email\na@example.com\nb@example.com\n")
    assert report["first_chunk_at"] < last_piece_at - 1.5


def test_large_bodies_pass_through_in_bounded_memory(gateway: ServiceProcess) -> None:
    size_mib = 64
    before = peak_memory_bytes(gateway.process.pid)

    def upload() -> Iterator[bytes]:
        chunk = b"y" * MIB
        for _ in range(size_mib):
            yield chunk

    with httpx.Client(base_url=gateway.url, headers=HEADERS, timeout=60) as http:
        uploaded = http.post(
            "/v1/customers/import",
            content=upload(),
            headers={"content-type": "text/csv", "content-length": str(size_mib * MIB)},
        )
        downloaded = 0
        with http.stream("GET", f"/v1/customers/big-export?mb={size_mib}") as response:
            for piece in response.iter_bytes():
                downloaded += len(piece)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["bytes"] == size_mib * MIB
    assert downloaded == size_mib * MIB
    growth = peak_memory_bytes(gateway.process.pid) - before
    assert growth < 24 * MIB, f"the gateway's peak memory grew by {growth / MIB:.0f} MiB"
