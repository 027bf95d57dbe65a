"""The API surface: a complete OpenAPI document, and no route that costs a thread hop."""

from __future__ import annotations

from crm_recommend.main import create_app
from crm_shared.testing import (
    api_operations,
    sync_dependencies,
    undeclared_problems,
    undeclared_schemas,
)


def test_every_api_operation_declares_its_problems() -> None:
    spec = create_app().openapi()
    assert len(api_operations(spec)) >= 11
    assert undeclared_problems(spec) == []


def test_lists_publish_their_schema() -> None:
    spec = create_app().openapi()
    personal = spec["paths"]["/v1/recommendations/{customer_id}"]["get"]
    content = personal["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/RecommendationList"}
    batch = spec["paths"]["/v1/recommendations:batch"]["post"]
    assert "application/x-ndjson" in batch["responses"]["200"]["content"]


def test_every_dependency_runs_on_the_event_loop() -> None:
    assert sync_dependencies(create_app()) == []


def test_every_schema_referred_to_is_declared() -> None:
    spec = create_app().openapi()
    assert "BatchRecommendations" in spec["components"]["schemas"]
    assert undeclared_schemas(spec) == set()
