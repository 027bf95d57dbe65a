"""The route table: who owns a path and which scope a call needs."""

from __future__ import annotations

import pytest

from crm_gateway import routes
from crm_gateway.routes import ROLE_SCOPES, ROUTES, Scope, Traffic, match
from crm_shared.schemas.gateway import ApiKeyRole

CUSTOMER_ID = "0190f1b2-7c1e-7a00-8000-000000000001"


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/v1/customers", "customer"),
        ("/v1/customers/import", "customer"),
        (f"/v1/customers/{CUSTOMER_ID}", "customer"),
        (f"/v1/customers/{CUSTOMER_ID}/tickets", "customer"),
        ("/v1/tickets/abc/notes", "customer"),
        ("/v1/tags", "customer"),
        (f"/v1/customers/{CUSTOMER_ID}/orders/summary", "orders"),
        (f"/v1/customers/{CUSTOMER_ID}/orders", "orders"),
        (f"/v1/customers/{CUSTOMER_ID}/interactions", "orders"),
        ("/v1/products/import", "orders"),
        ("/v1/products/by-sku/a/b", "orders"),
        ("/v1/orders/import", "orders"),
        ("/v1/interactions/batch", "orders"),
        ("/v1/products", "orders"),
        ("/v1/products/p-1", "orders"),
        ("/v1/orders/o-1/refunds", "orders"),
        ("/v1/interactions", "orders"),
        ("/v1/export/order-lines", "orders"),
        (f"/v1/customers/{CUSTOMER_ID}/scores", "analytics"),
        ("/v1/segments/champions/members", "analytics"),
        ("/v1/scores", "analytics"),
        ("/v1/runs/r-1", "analytics"),
        (f"/v1/recommendations/{CUSTOMER_ID}", "recommend"),
        ("/v1/recommendations/a\nb", "recommend"),
        ("/v1/recommendations/session", "recommend"),
        ("/v1/recommendations:batch", "recommend"),
        ("/v1/products/popular", "recommend"),
        ("/v1/products/p-1/similar", "recommend"),
        ("/v1/models/training-runs", "recommend"),
        ("/v1/models/3/activate", "recommend"),
        (f"/v1/customers/{CUSTOMER_ID}/360", None),
        ("/v1/admin/keys", None),
    ],
)
def test_each_path_goes_to_the_service_that_owns_it(path: str, upstream: str | None) -> None:
    route = match(path)
    assert route is not None
    assert route.upstream == upstream


@pytest.mark.parametrize(
    "path", ["/v1", "/v1/", "/v1/unknown", "/v1/customersx", "/v1/recommendations:other", "/x"]
)
def test_paths_no_row_claims_match_nothing(path: str) -> None:
    assert match(path) is None


def test_a_visitors_session_recommendations_are_a_storefront_read() -> None:
    route = match("/v1/recommendations/session")
    assert route is not None
    assert route.scope_for("POST") == Scope.recommendations_read
    assert routes.allowed(ApiKeyRole.storefront, Scope.recommendations_read)


def test_reads_and_writes_of_a_family_need_different_scopes() -> None:
    route = match("/v1/customers/abc")
    assert route is not None
    assert route.scope_for("GET") is Scope.customers_read
    assert route.scope_for("HEAD") is Scope.customers_read
    assert route.scope_for("PATCH") is Scope.customers_write
    export = match("/v1/customers/export")
    assert export is not None
    assert export.scope_for("POST") is None  # read-only: writing is not offered


def test_imports_are_bulk_traffic() -> None:
    for path in ("/v1/customers/import", "/v1/orders/import", "/v1/products/import"):
        route = match(path)
        assert route is not None
        assert route.traffic is Traffic.bulk
        assert route.scope_for("GET") is None  # write-only
    standard = match("/v1/orders/o-1")
    assert standard is not None
    assert standard.traffic is Traffic.standard


def test_every_row_is_reachable() -> None:
    """A row shadowed by an earlier, broader one would never apply."""
    for route in ROUTES:
        sample = route.pattern.replace("/**", "/x").replace("*", "x")
        assert match(sample) is route, f"{route.pattern} is shadowed"


def test_roles_hold_what_the_design_gives_them() -> None:
    storefront = ROLE_SCOPES[ApiKeyRole.storefront]
    assert storefront == {Scope.catalogue_read, Scope.recommendations_read}
    assert Scope.customers_read not in ROLE_SCOPES[ApiKeyRole.marketing]
    assert Scope.segments_read not in ROLE_SCOPES[ApiKeyRole.backoffice]
    assert Scope.keys_admin not in ROLE_SCOPES[ApiKeyRole.backoffice]
    assert ROLE_SCOPES[ApiKeyRole.admin] == set(Scope)
    for role in ApiKeyRole:
        assert routes.allowed(role, Scope.catalogue_read) == (role is not ApiKeyRole.marketing)
