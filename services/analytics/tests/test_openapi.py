"""The API surface: a complete OpenAPI document, and no route that costs a thread hop."""

from __future__ import annotations

from crm_analytics.main import create_app
from crm_shared.testing import sync_dependencies, undeclared_schemas


def test_every_api_operation_declares_its_problems() -> None:
    spec = create_app().openapi()
    operations = [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/v1")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 14
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), f"{where} has no summary"
        statuses = set(operation["responses"])
        assert {"401", "422", "503"} <= statuses, f"{where} declares {sorted(statuses)}"
        assert any(status.startswith("2") for status in statuses), where
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                content = response.get("content", {})
                assert "application/problem+json" in content, f"{where} {status}"
    assert "Problem" in spec["components"]["schemas"]


def test_score_and_segment_reads_declare_their_freshness_headers() -> None:
    spec = create_app().openapi()
    for path in ("/v1/customers/{customer_id}/scores", "/v1/scores", "/v1/scores/summary"):
        headers = spec["paths"][path]["get"]["responses"]["200"]["headers"]
        assert {"X-Data-As-Of", "X-Data-Staleness-Seconds"} <= set(headers), path
    csv = spec["paths"]["/v1/segments/{segment_id}/members.csv"]["get"]["responses"]["200"]
    assert "text/csv" in csv["content"]


def test_every_dependency_runs_on_the_event_loop() -> None:
    assert sync_dependencies(create_app()) == []


def test_every_schema_referred_to_is_declared() -> None:
    spec = create_app().openapi()
    schemas = spec["components"]["schemas"]
    for name in ("Run", "CustomerScores", "Segment", "SegmentCreate", "SegmentMember"):
        assert name in schemas, name
    assert undeclared_schemas(spec) == set()
