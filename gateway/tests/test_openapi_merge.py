"""Merging OpenAPI documents: routed paths only, clashing schemas renamed, security added."""

from __future__ import annotations

from typing import Any

from crm_gateway.openapi import merge


def _document(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {}, "paths": paths, "components": {"schemas": schemas}}


def _get(ref: str) -> dict[str, Any]:
    return {
        "get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": ref}}}}}}
    }


def test_clashing_schemas_are_renamed_with_their_references() -> None:
    own = _document(
        {"/health": _get("#/components/schemas/Health")}, {"Health": {"type": "object"}}
    )
    orders = _document(
        {
            "/v1/orders/{order_id}": _get("#/components/schemas/Item"),
            "/v1/customers/{customer_id}/orders/summary": _get("#/components/schemas/Summary"),
            "/v1/tickets": _get("#/components/schemas/Item"),  # not routed to orders
        },
        {
            "Item": {"type": "object", "title": "an order"},
            "Summary": {"type": "object"},
            "Health": {"type": "string"},  # same name as the gateway's, different schema
        },
    )
    customer = _document(
        {"/v1/tickets": _get("#/components/schemas/Item")},
        {"Item": {"type": "object", "title": "a ticket"}},
    )
    merged = merge(own, {"orders": orders, "customer": customer}, ["analytics"])

    paths = merged["paths"]
    assert set(paths) == {
        "/health",
        "/v1/orders/{order_id}",
        "/v1/customers/{customer_id}/orders/summary",
        "/v1/tickets",
    }
    schemas = merged["components"]["schemas"]
    # customer comes first by name, so its Item keeps the name; orders' is renamed.
    assert schemas["Item"]["title"] == "a ticket"
    assert schemas["orders_Item"]["title"] == "an order"
    assert schemas["orders_Health"] == {"type": "string"}
    assert schemas["Health"] == {"type": "object"}
    order = paths["/v1/orders/{order_id}"]["get"]
    assert order["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/orders_Item"
    }
    assert order["x-required-scope"] == "orders:read"
    assert order["security"] == [{"ApiKey": []}, {"ApiKeyHeader": []}]
    assert set(order["responses"]) == {"200", "401", "403", "429"}
    assert paths["/health"]["get"]["security"] == []
    assert merged["info"]["x-unavailable-services"] == ["analytics"]
    # The inputs are left as they were.
    assert "security" not in orders["paths"]["/v1/orders/{order_id}"]["get"]
