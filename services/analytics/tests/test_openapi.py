"""The API surface: a complete OpenAPI document, and no route that costs a thread hop."""

from __future__ import annotations

from crm_analytics.main import create_app
from crm_shared.testing import (
    api_operations,
    sync_dependencies,
    undeclared_problems,
    undeclared_schemas,
)


def test_every_api_operation_declares_its_problems() -> None:
    spec = create_app().openapi()
    assert len(api_operations(spec)) >= 14
    assert undeclared_problems(spec) == []


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
