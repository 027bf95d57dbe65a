"""The one table of the public API: which service owns a path, and the scope each call needs.

Rows are tried in order and the first whose pattern matches wins, so specific paths come
before the families they belong to. In a pattern `*` is one path segment and a final `**`
is any number of them (none included). A path no row matches is a 404 for every key: a
new route becomes public only when it gets a row here, with its scopes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from crm_shared.schemas.gateway import ApiKeyRole

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Scope(StrEnum):
    customers_read = "customers:read"
    customers_write = "customers:write"
    tickets_read = "tickets:read"
    tickets_write = "tickets:write"
    catalogue_read = "catalogue:read"
    catalogue_write = "catalogue:write"
    orders_read = "orders:read"
    orders_write = "orders:write"
    reports_read = "reports:read"
    interactions_read = "interactions:read"
    interactions_write = "interactions:write"
    exports_read = "exports:read"
    segments_read = "segments:read"
    segments_write = "segments:write"
    scores_read = "scores:read"
    runs_read = "runs:read"
    runs_write = "runs:write"
    recommendations_read = "recommendations:read"
    recommendations_batch = "recommendations:batch"
    keys_admin = "keys:admin"


ROLE_SCOPES: dict[ApiKeyRole, frozenset[Scope]] = {
    ApiKeyRole.storefront: frozenset({Scope.catalogue_read, Scope.recommendations_read}),
    ApiKeyRole.backoffice: frozenset(
        {
            Scope.customers_read,
            Scope.customers_write,
            Scope.tickets_read,
            Scope.tickets_write,
            Scope.catalogue_read,
            Scope.orders_read,
            Scope.orders_write,
            Scope.reports_read,
            Scope.interactions_read,
            Scope.interactions_write,
        }
    ),
    ApiKeyRole.marketing: frozenset(
        {
            Scope.segments_read,
            Scope.segments_write,
            Scope.scores_read,
            Scope.recommendations_batch,
            # The dashboard: shop-wide figures, run and model status, a customer's list.
            Scope.reports_read,
            Scope.runs_read,
            Scope.recommendations_read,
        }
    ),
    ApiKeyRole.admin: frozenset(Scope),
}


class Traffic(StrEnum):
    """How long a call may be silent and how large its body may be (see the settings)."""

    standard = "standard"
    bulk = "bulk"


@dataclass(frozen=True)
class Route:
    pattern: str
    upstream: str | None  # None: the gateway answers it itself
    read: Scope | None = None
    write: Scope | None = None
    traffic: Traffic = Traffic.standard

    @property
    def path(self) -> str:
        """The route's label in metrics and logs."""
        return self.pattern

    def scope_for(self, method: str) -> Scope | None:
        """The scope a call with this method needs; None: the method is not offered."""
        return self.read if method in READ_METHODS else self.write


GATEWAY = None  # rows the gateway answers itself

ROUTES: tuple[Route, ...] = (
    # The gateway's own API.
    Route("/v1/admin/**", GATEWAY, Scope.keys_admin, Scope.keys_admin),
    Route("/v1/customers/*/360", GATEWAY, Scope.customers_read),
    Route("/v1/dashboard/session", GATEWAY, Scope.segments_read),
    # Paths under a customer that other services own.
    Route("/v1/customers/*/orders/**", "orders", Scope.orders_read),
    Route("/v1/customers/*/interactions/**", "orders", Scope.interactions_read),
    Route("/v1/customers/*/scores/**", "analytics", Scope.scores_read),
    Route("/v1/customers/*/tickets/**", "customer", Scope.tickets_read),
    # Customer service.
    Route("/v1/customers/import", "customer", None, Scope.customers_write, Traffic.bulk),
    Route("/v1/customers/export", "customer", Scope.customers_read, None, Traffic.bulk),
    # Which customers exist: a read whose list of ids is too long for a query.
    Route("/v1/customers/existing", "customer", None, Scope.customers_read),
    Route("/v1/customers/**", "customer", Scope.customers_read, Scope.customers_write),
    Route("/v1/tickets/export", "customer", Scope.tickets_read, None, Traffic.bulk),
    Route("/v1/tickets/**", "customer", Scope.tickets_read, Scope.tickets_write),
    Route("/v1/tags/**", "customer", Scope.customers_read),
    # Recommendation service; its product paths come before the catalogue's.
    Route("/v1/products/popular", "recommend", Scope.recommendations_read),
    Route("/v1/products/*/similar", "recommend", Scope.recommendations_read),
    Route(
        "/v1/recommendations:batch", "recommend", None, Scope.recommendations_batch, Traffic.bulk
    ),
    # A visitor's session recommendations: a read whose input is too long for a query.
    Route(
        "/v1/recommendations/session",
        "recommend",
        Scope.recommendations_read,
        Scope.recommendations_read,
    ),
    Route("/v1/recommendations/**", "recommend", Scope.recommendations_read),
    Route("/v1/models/**", "recommend", Scope.runs_read, Scope.runs_write),
    # Orders service.
    Route("/v1/products/import", "orders", None, Scope.catalogue_write, Traffic.bulk),
    Route("/v1/products/**", "orders", Scope.catalogue_read, Scope.catalogue_write),
    Route("/v1/orders/import", "orders", None, Scope.orders_write, Traffic.bulk),
    Route("/v1/orders/summary", "orders", Scope.reports_read),
    Route("/v1/orders/**", "orders", Scope.orders_read, Scope.orders_write),
    Route(
        "/v1/interactions/**",
        "orders",
        Scope.interactions_read,
        Scope.interactions_write,
        Traffic.bulk,
    ),
    Route("/v1/export/**", "orders", Scope.exports_read, None, Traffic.bulk),
    # Analytics service.
    Route("/v1/segments/**", "analytics", Scope.segments_read, Scope.segments_write),
    Route("/v1/scores/**", "analytics", Scope.scores_read),
    Route("/v1/insights/**", "analytics", Scope.scores_read),
    Route("/v1/runs/**", "analytics", Scope.runs_read, Scope.runs_write),
)


def _compile(pattern: str) -> re.Pattern[str]:
    parts = pattern.strip("/").split("/")
    tail = ""
    if parts[-1] == "**":
        parts.pop()
        tail = "(?:/.*)?"
    body = "".join("/[^/]+" if part == "*" else "/" + re.escape(part) for part in parts)
    # DOTALL and \Z: a segment may hold any decoded character, a newline (`%0A`) included.
    return re.compile(f"^{body}{tail}\\Z", re.DOTALL)


_COMPILED: tuple[tuple[re.Pattern[str], Route], ...] = tuple(
    (_compile(route.pattern), route) for route in ROUTES
)


def match(path: str) -> Route | None:
    """The first row whose pattern matches the path, or None."""
    for pattern, route in _COMPILED:
        if pattern.match(path):
            return route
    return None


def allowed(role: ApiKeyRole, scope: Scope) -> bool:
    return scope in ROLE_SCOPES[role]
