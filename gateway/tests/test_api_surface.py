"""One API surface: the merged OpenAPI document, its docs pages, `/health` and `/ready`."""

from __future__ import annotations

import httpx

from crm_shared.testing import assert_problem


async def test_the_merged_document_holds_every_services_paths_and_the_security(
    client_with, customer_service
) -> None:
    async with client_with(None) as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    # The customer service's own paths, the gateway's, and nothing of the services' ops.
    assert "/v1/customers/{customer_id}" in paths
    assert "/v1/customers/import" in paths
    assert "/v1/tickets/{ticket_id}/notes" in paths
    assert "/v1/admin/keys" in paths
    assert "/v1/customers/{customer_id}/360" in paths
    assert paths["/health"]["get"]["security"] == []

    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["ApiKeyHeader"]["name"] == "X-API-Key"
    read = paths["/v1/customers/{customer_id}"]["get"]
    assert read["security"] == [{"ApiKey": []}, {"ApiKeyHeader": []}]
    assert read["x-required-scope"] == "customers:read"
    assert paths["/v1/customers/{customer_id}"]["patch"]["x-required-scope"] == "customers:write"
    assert paths["/v1/admin/keys"]["post"]["x-required-scope"] == "keys:admin"
    assert {"401", "403", "429"} <= set(read["responses"])
    # Merging breaks no $ref: whatever does not resolve did not in the service's own document.
    schemas = document["components"]["schemas"]
    async with httpx.AsyncClient() as direct:
        own = (await direct.get(f"{customer_service.url}/openapi.json")).json()
    assert _dangling(document) <= _dangling(own)
    assert "CustomerRead" in schemas
    assert "Customer360" in schemas
    # Services that are down are named, not silently missing.
    assert set(document["info"]["x-unavailable-services"]) == {"orders", "analytics", "recommend"}
    assert document["info"]["x-services"] == ["customer"]


def _dangling(document: dict) -> set[str]:
    schemas = set(document["components"]["schemas"])
    refs = {ref.removeprefix("#/components/schemas/") for ref in _refs(document)}
    return refs - schemas


def _refs(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


async def test_the_docs_are_served_without_a_cdn(client_with) -> None:
    async with client_with(None) as http:
        page = await http.get("/docs")
        script = await http.get("/docs/static/swagger-ui-bundle.js")
        redoc = await http.get("/redoc")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    assert script.status_code == 200
    assert len(script.content) > 100_000
    assert "/docs/static/redoc.standalone.js" in redoc.text


async def test_ready_aggregates_the_required_services(client_with, lone_gateway) -> None:
    async with client_with(None) as http:
        ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "customer": "ok"}

    async with lone_gateway(customer_url="http://127.0.0.1:9") as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            not_ready = await http.get("/ready")
            alive = await http.get("/health")
    problem = assert_problem(not_ready, 503, "not-ready")
    assert problem["checks"]["database"] == "ok"
    assert problem["checks"]["customer"].startswith("failing")
    assert alive.status_code == 200
