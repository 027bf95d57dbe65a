"""Who may call what: no key, bad keys, revoked keys, and each role on each kind of route."""

from __future__ import annotations

import pytest

from crm_shared.testing import assert_problem

CUSTOMER = "0190f1b2-7c1e-7a00-8000-000000000001"
ROLES = ("storefront", "backoffice", "marketing", "admin")

# (method, path, roles allowed). Allowed calls may still fail further on (the service
# is down, the customer unknown): what matters here is that they are not 401 or 403.
MATRIX = [
    ("GET", "/v1/customers?limit=1", {"backoffice", "admin"}),
    ("POST", "/v1/customers", {"backoffice", "admin"}),
    ("GET", f"/v1/customers/{CUSTOMER}/timeline", {"backoffice", "admin"}),
    ("GET", "/v1/customers/export?limit=1", {"backoffice", "admin"}),
    ("POST", "/v1/customers/import", {"backoffice", "admin"}),
    ("GET", "/v1/tickets", {"backoffice", "admin"}),
    ("GET", f"/v1/customers/{CUSTOMER}/tickets", {"backoffice", "admin"}),
    ("GET", "/v1/tags", {"backoffice", "admin"}),
    ("GET", f"/v1/customers/{CUSTOMER}/360", {"backoffice", "admin"}),
    ("GET", "/v1/products", {"storefront", "backoffice", "admin"}),
    ("POST", "/v1/products", {"admin"}),
    ("GET", "/v1/products/popular", {"storefront", "marketing", "admin"}),
    ("GET", "/v1/products/p-1/similar", {"storefront", "marketing", "admin"}),
    ("GET", f"/v1/recommendations/{CUSTOMER}", {"storefront", "marketing", "admin"}),
    ("POST", "/v1/recommendations:batch", {"marketing", "admin"}),
    ("GET", "/v1/orders", {"backoffice", "admin"}),
    ("POST", "/v1/orders", {"backoffice", "admin"}),
    ("GET", "/v1/orders/summary", {"backoffice", "marketing", "admin"}),
    ("GET", f"/v1/customers/{CUSTOMER}/orders/summary", {"backoffice", "admin"}),
    ("POST", "/v1/interactions", {"backoffice", "admin"}),
    ("GET", "/v1/export/order-lines", {"admin"}),
    ("GET", "/v1/segments", {"marketing", "admin"}),
    ("POST", "/v1/segments", {"marketing", "admin"}),
    ("GET", f"/v1/customers/{CUSTOMER}/scores", {"marketing", "admin"}),
    ("GET", "/v1/scores/distribution", {"marketing", "admin"}),
    ("GET", "/v1/runs", {"marketing", "admin"}),
    ("POST", "/v1/runs", {"admin"}),
    ("GET", "/v1/models", {"marketing", "admin"}),
    ("POST", "/v1/models/training-runs", {"admin"}),
    ("GET", "/v1/admin/keys", {"admin"}),
    ("POST", "/v1/admin/keys", {"admin"}),
]


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_reaches_exactly_its_routes(role: str, new_key, client_with) -> None:
    key = await new_key(role)
    async with client_with(key) as http:
        for method, path, allowed in MATRIX:
            body = {"json": {}} if method == "POST" else {}
            response = await http.request(method, path, **body)
            if role in allowed:
                assert response.status_code not in (401, 403), (method, path, response.text)
            else:
                problem = assert_problem(response, 403, "insufficient-scope")
                assert problem["role"] == role
                assert problem["required_scope"]


async def test_a_call_without_a_key_is_401(client_with) -> None:
    async with client_with(None) as http:
        response = await http.get("/v1/customers")
    assert_problem(response, 401, "missing-api-key")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "presented",
    [
        "not-a-key",
        "crm_0123456789ab_" + "a" * 43,  # well formed, unknown
        "Basic dXNlcjpwYXNz",
    ],
)
async def test_malformed_and_unknown_keys_are_401(presented: str, client_with) -> None:
    async with client_with(presented) as http:
        assert_problem(await http.get("/v1/customers"), 401, "invalid-api-key")


async def test_the_right_id_with_a_wrong_secret_is_401(new_key, client_with) -> None:
    key = await new_key("admin")
    forged = key[: len("crm_0123456789ab_")] + "b" * 43
    async with client_with(forged) as http:
        assert_problem(await http.get("/v1/admin/keys"), 401, "invalid-api-key")


async def test_the_key_may_come_in_either_header(new_key, client_with) -> None:
    key = await new_key("backoffice")
    async with client_with(None) as http:
        by_header = await http.get("/v1/customers?limit=1", headers={"X-API-Key": key})
        by_bearer = await http.get(
            "/v1/customers?limit=1", headers={"Authorization": f"bearer {key}"}
        )
    assert by_header.status_code == by_bearer.status_code == 200


async def test_a_revoked_key_is_401(new_key, admin, client_with) -> None:
    key = await new_key("backoffice")
    key_id = key.split("_")[1]
    assert (await admin.delete(f"/v1/admin/keys/{key_id}")).status_code == 200
    async with client_with(key) as http:
        assert_problem(await http.get("/v1/customers"), 401, "invalid-api-key")


async def test_unknown_paths_and_methods_are_refused(new_key, client_with) -> None:
    key = await new_key("admin")
    async with client_with(key) as http:
        assert_problem(await http.get("/v1/nowhere"), 404, "not-found")
        assert_problem(await http.post("/v1/tags", json={}), 405, "method-not-allowed")
        # Outside /v1 no key is needed: health and docs are open.
    async with client_with(None) as http:
        assert (await http.get("/health")).status_code == 200
