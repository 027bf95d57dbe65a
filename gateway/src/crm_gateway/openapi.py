"""One API surface: the services' OpenAPI documents merged with the gateway's own.

Each service's `/openapi.json` is fetched, kept for `GATEWAY_OPENAPI_CACHE_SECONDS`, and
reused when the service is down later; a service never reached yet is left out and named
in `info.x-unavailable-services`. Only the paths the route table sends to a service are
taken from it, each marked with the scope it needs and the API-key security scheme.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles

from crm_gateway import routes
from crm_gateway.runtime import Runtime
from crm_gateway.upstreams.client import CircuitOpen, Upstream
from crm_gateway.upstreams.http11 import UpstreamFailure
from crm_shared.errors import PROBLEM_JSON
from crm_shared.json import dumps

FETCH_TIMEOUT_SECONDS = 2.0
RETRY_INCOMPLETE_SECONDS = 5.0
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
SECURITY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"ApiKeyHeader": []}]
SECURITY_SCHEMES = {
    "ApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`crm_<id>_<secret>`) as `Authorization: Bearer <key>`.",
    },
    "ApiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key in the `X-API-Key` header.",
    },
}
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
GATEWAY_RESPONSES = {
    "401": {"description": "Missing, unknown or revoked API key", "content": _PROBLEM},
    "403": {"description": "The key's role lacks the scope this call needs", "content": _PROBLEM},
    "429": {
        "description": "The key's rate limit is spent; see Retry-After",
        "content": _PROBLEM,
    },
}
_PARAMETER = re.compile(r"\{[^/}]+\}")
_STATIC = resources.files("fastapi_offline") / "static"


class ApiDocument:
    """The merged document, rebuilt when it is older than the cache allows."""

    def __init__(self, app: FastAPI, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._service_documents: dict[str, dict[str, Any]] = {}
        self._merged: dict[str, Any] | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        merged = self._merged
        if merged is not None and time.monotonic() < self._expires:
            return merged
        async with self._lock:
            if self._merged is None or time.monotonic() >= self._expires:
                self._merged = await self._rebuild()
            return self._merged

    async def _rebuild(self) -> dict[str, Any]:
        upstreams = list(self.runtime.upstreams)
        fetched = await asyncio.gather(*(self._fetch(upstream) for upstream in upstreams))
        unavailable = []
        for upstream, document in zip(upstreams, fetched, strict=True):
            if document is not None:
                self._service_documents[upstream.name] = document
            elif upstream.name not in self._service_documents:
                unavailable.append(upstream.name)
        ttl = self.runtime.settings.openapi_cache_seconds
        self._expires = time.monotonic() + (
            min(ttl, RETRY_INCOMPLETE_SECONDS) if unavailable else ttl
        )
        return merge(self.app.openapi(), self._service_documents, unavailable)

    async def _fetch(self, upstream: Upstream) -> dict[str, Any] | None:
        try:
            status, document = await upstream.get_json(
                "/openapi.json", timeout_seconds=FETCH_TIMEOUT_SECONDS
            )
        except (UpstreamFailure, CircuitOpen, ValueError):
            return None
        return document if status == 200 and isinstance(document, dict) else None


def merge(
    own: dict[str, Any], services: dict[str, dict[str, Any]], unavailable: list[str]
) -> dict[str, Any]:
    """The gateway's document with the routed paths and components of every service."""
    merged = copy.deepcopy(own)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    components: dict[str, Any] = merged.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    tags: list[dict[str, Any]] = merged.setdefault("tags", [])
    for name in sorted(services):
        document = services[name]
        theirs: dict[str, Any] = document.get("components", {}).get("schemas", {})
        # Same name, different schema: the service's copy is renamed, its refs rewritten.
        renames = {
            schema: f"{name}_{schema}"
            for schema, body in theirs.items()
            if schema in schemas and schemas[schema] != body
        }
        document = _rename_refs(document, renames) if renames else document
        for schema, body in document.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(renames.get(schema, schema), body)
        for path, item in document.get("paths", {}).items():
            route = routes.match(_PARAMETER.sub("x", path))
            if route is None or route.upstream != name or path in paths:
                continue
            paths[path] = copy.deepcopy(item)
        known = {tag["name"] for tag in tags}
        tags.extend(tag for tag in document.get("tags", []) if tag.get("name") not in known)
    for path, item in paths.items():
        _secure(path, item)
    components["securitySchemes"] = SECURITY_SCHEMES
    merged["security"] = SECURITY
    info = merged.setdefault("info", {})
    info["x-services"] = sorted(services)
    if unavailable:
        info["x-unavailable-services"] = sorted(unavailable)
    return merged


def _secure(path: str, item: dict[str, Any]) -> None:
    route = routes.match(_PARAMETER.sub("x", path)) if path.startswith("/v1") else None
    for method, operation in item.items():
        if method not in HTTP_METHODS or not isinstance(operation, dict):
            continue
        if route is None:
            operation["security"] = []  # health, readiness, metrics: open
            continue
        required = route.scope_for(method.upper())
        operation["security"] = SECURITY
        operation["x-required-scope"] = required.value if required else None
        responses = operation.setdefault("responses", {})
        responses.update(copy.deepcopy(GATEWAY_RESPONSES))


def _rename_refs(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, dict):
        renamed = {key: _rename_refs(item, renames) for key, item in value.items()}
        ref = renamed.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            schema = ref.removeprefix("#/components/schemas/")
            if schema in renames:
                renamed["$ref"] = "#/components/schemas/" + renames[schema]
        return renamed
    if isinstance(value, list):
        return [_rename_refs(item, renames) for item in value]
    return value


def install_docs(app: FastAPI) -> None:
    """Serve the merged document at `/openapi.json` and Swagger UI and ReDoc for it, with
    their scripts from the installed package instead of a CDN."""
    framework_docs = {app.openapi_url, app.docs_url, app.redoc_url, "/docs/oauth2-redirect"}
    kept: list[BaseRoute] = [
        route
        for route in app.router.routes
        if not (isinstance(route, Route) and route.path in framework_docs)
    ]
    app.router.routes[:] = kept
    docs = APIRouter(include_in_schema=False)

    @docs.get("/openapi.json")
    async def openapi_document(request: Request) -> Response:
        document: ApiDocument = request.app.state.api_document
        return Response(dumps(await document.get()), media_type="application/json")

    @docs.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="CRM platform API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @docs.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="CRM platform API",
            redoc_js_url="/docs/static/redoc.standalone.js",
            redoc_favicon_url="/docs/static/favicon.png",
            with_google_fonts=False,
        )

    app.include_router(docs)
    app.mount("/docs/static", StaticFiles(directory=str(_STATIC)), name="docs-static")
