"""The API surface: a complete OpenAPI document, and no route that costs a thread hop."""

from __future__ import annotations

from crm_recommend.main import create_app
from crm_shared.testing import sync_dependencies, undeclared_schemas


def test_every_api_operation_declares_its_problems() -> None:
    spec = create_app().openapi()
    operations = [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/v1")
        for method, operation in methods.items()
    ]
    assert len(operations) >= 11
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
