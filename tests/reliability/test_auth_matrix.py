"""Every public operation x every role (and no key, and a revoked key) through the real
gateway: each call is let through or refused exactly as the route table and the roles'
scopes say. The operations come from the gateway's merged OpenAPI, so a route a service
adds without a row (and a scope) in the route table fails here."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from crm_gateway.routes import ROLE_SCOPES, Scope, match
from crm_shared.schemas.gateway import ApiKeyRole

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("reliability-stack")]
HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def _path_value(parameter: dict[str, Any]) -> str:
    """A well-formed value for a path parameter, naming nothing that exists."""
    schema = parameter.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "7"
    return "probe-1"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, templated path, concrete path, operation) of every `/v1` operation."""
    found = []
    for path, item in document["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            concrete = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    concrete = concrete.replace(
                        "{" + parameter["name"] + "}", _path_value(parameter)
                    )
            found.append((method.upper(), path, concrete, operation))
    return found


def _is_problem(response: httpx.Response, status: int, slug: str) -> bool:
    if response.status_code != status:
        return False
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    return bool(response.json().get("type") == f"urn:crm:problem:{slug}")


def test_every_route_lets_in_exactly_the_roles_the_design_gives_it(crm_stack: Any) -> None:
    gateway = crm_stack.gateway.url
    document = httpx.get(f"{gateway}/openapi.json", timeout=30).json()
    assert "x-unavailable-services" not in document["info"], document["info"]
    operations = _operations(document)
    assert len(operations) > 50  # every service's routes are in the merged document

    keys = {role: crm_stack.key(role.value) for role in ApiKeyRole}
    revoked = crm_stack.key(ApiKeyRole.admin.value)
    crm_stack.revoke(revoked)

    unscoped: list[str] = []
    wrong: list[str] = []
    allowed_calls = denied_calls = 0
    with httpx.Client(base_url=gateway, timeout=60) as http:
        for method, path, concrete, operation in operations:
            label = f"{method} {path}"
            route = match(concrete)
            scope = operation.get("x-required-scope")
            if route is None or route.scope_for(method) is None or scope is None:
                unscoped.append(label)
                continue
            assert scope == route.scope_for(method), label
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}

            for role, key in keys.items():
                response = http.request(method, concrete, headers={"X-API-Key": key}, **body)
                if Scope(scope) in ROLE_SCOPES[role]:
                    allowed_calls += 1
                    if response.status_code in (401, 403):
                        wrong.append(f"{label} as {role.value}: refused {response.text[:200]}")
                else:
                    denied_calls += 1
                    if not _is_problem(response, 403, "insufficient-scope"):
                        wrong.append(
                            f"{label} as {role.value}: {response.status_code}, not 403 "
                            f"insufficient-scope: {response.text[:200]}"
                        )
            anonymous = http.request(method, concrete, **body)
            if not _is_problem(anonymous, 401, "missing-api-key"):
                wrong.append(f"{label} without a key: {anonymous.status_code}")
            stale = http.request(method, concrete, headers={"X-API-Key": revoked}, **body)
            if not _is_problem(stale, 401, "invalid-api-key"):
                wrong.append(f"{label} with a revoked key: {stale.status_code}")
            denied_calls += 2

    assert not unscoped, f"operations without a route-table row and scope: {unscoped}"
    assert not wrong, "\n".join(wrong)
    # The matrix is not one-sided: every role is both let in and refused somewhere.
    assert allowed_calls > len(operations)
    assert denied_calls > 2 * len(operations)
