"""The customer service as a real uvicorn process, called over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from crm_shared.testing import (
    TEST_SERVICE_TOKEN,
    ServiceProcess,
    assert_problem,
    service_process,
)

pytestmark = pytest.mark.e2e
AUTH = {"X-Service-Token": TEST_SERVICE_TOKEN}


def test_serves_customers_over_http_and_keeps_them_across_restarts(
    customer_database_url: str, tmp_path: Path
) -> None:
    with (
        service_process(
            "crm_customer", "CUSTOMER_", database_url=customer_database_url, log_dir=tmp_path
        ) as service,
        httpx.Client(base_url=service.url, headers=AUTH) as http,
    ):
        created = http.post(
            "/v1/customers",
            json={"email": "grace@example.com", "first_name": "Grace", "tags": ["vip"]},
            headers={"X-Request-ID": "e2e-create-1"},
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "e2e-create-1"
        customer = created.json()

        assert http.get(f"/v1/customers/{customer['id']}").json() == customer
        listed = http.get("/v1/customers", params={"tag": "vip"}).json()
        assert [item["id"] for item in listed["items"]] == [customer["id"]]

        with http.stream("GET", "/v1/customers/export") as export:
            assert export.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in export.iter_lines() if line]
        assert [(line["id"], line["change"]) for line in lines] == [(customer["id"], "upsert")]

        assert_problem(http.post("/v1/customers", json={"email": "nope"}), 422)
        assert_problem(httpx.get(f"{service.url}/v1/customers"), 401, "invalid-service-token")

        metrics = http.get("/metrics").text
        assert 'route="/v1/customers/{customer_id}"' in metrics
        assert "http_request_duration_seconds_bucket" in metrics

        access = _logged(service, "e2e-create-1")
        assert access, "the access log line carries the request id"
        assert access[0]["service"] == "customer"
        assert access[0]["status"] == 201

    # A second start on the same database migrates nothing new and serves the same data.
    with service_process(
        "crm_customer", "CUSTOMER_", database_url=customer_database_url, log_dir=tmp_path
    ) as again:
        read = httpx.get(f"{again.url}/v1/customers/{customer['id']}", headers=AUTH)
        assert read.status_code == 200
        assert read.json() == customer


def _logged(service: ServiceProcess, request_id: str) -> list[dict[str, object]]:
    """The JSON log lines of one request; the service writes its log in the background."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(line) for line in service.log_lines() if line.startswith("{")]
        found = [line for line in lines if line.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
