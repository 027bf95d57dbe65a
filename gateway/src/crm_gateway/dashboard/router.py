"""HTTP routes of the dashboard: its pages and scripts, the plotting library, the session.

The pages and scripts hold no data and need no key; everything they show comes from the
public `/v1` API, called by the browser with the key signed in (aggregates only).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse

from crm_gateway import routes
from crm_gateway.dashboard.schemas import DashboardPage, DashboardSession
from crm_gateway.keys.service import Caller
from crm_shared.errors import NotFound, problem_responses
from crm_shared.schemas.gateway import ApiKeyRole

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
PLOTLY_VERSION = metadata.version("plotly")
PLOTLY_PATH = f"/dashboard/vendor/plotly-{PLOTLY_VERSION}.min.js"
# The library's file name carries its version, so a browser may keep it for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
# The page and its scripts are revalidated on every load: a new release shows at once.
REVALIDATE = "no-cache"

# What each page calls, as scopes; a page is offered to a key whose role holds them all.
PAGE_SCOPES: dict[DashboardPage, frozenset[routes.Scope]] = {
    DashboardPage.overview: frozenset(
        {routes.Scope.scores_read, routes.Scope.reports_read, routes.Scope.runs_read}
    ),
    DashboardPage.segments: frozenset({routes.Scope.segments_read, routes.Scope.scores_read}),
    DashboardPage.value: frozenset({routes.Scope.scores_read}),
    DashboardPage.customer: frozenset({routes.Scope.customers_read}),
    DashboardPage.recommendations: frozenset(
        {routes.Scope.recommendations_read, routes.Scope.runs_read}
    ),
}

router = APIRouter(tags=["dashboard"])


class AssetNotFound(NotFound):
    slug = "not-found"
    title = "Not found"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str


@cache
def _asset(content: bytes) -> _Asset:
    return _Asset(
        body=content,
        gzipped=gzip.compress(content, compresslevel=6, mtime=0),
        etag='"' + hashlib.sha256(content).hexdigest()[:32] + '"',
    )


@cache
def _plotly() -> _Asset:
    script = resources.files("plotly") / "package_data" / "plotly.min.js"
    return _asset(script.read_bytes())


def _send(request: Request, asset: _Asset, media_type: str, cache_control: str) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=media_type, headers=headers)
    return Response(asset.body, media_type=media_type, headers=headers)


def _page() -> bytes:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return html.replace("{{plotly}}", PLOTLY_PATH).encode()


@router.get("/dashboard", include_in_schema=False)
async def dashboard_root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=308)


@router.get("/dashboard/", include_in_schema=False)
async def dashboard_page(request: Request) -> Response:
    return _send(request, _asset(_page()), "text/html; charset=utf-8", REVALIDATE)


@router.get("/dashboard/static/{name}", include_in_schema=False)
async def dashboard_asset(
    request: Request, name: Annotated[str, PathParam(max_length=40)]
) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise AssetNotFound(f"The dashboard has no file {name!r}.")
    return _send(request, _asset((STATIC / name).read_bytes()), media_type, REVALIDATE)


@router.get(PLOTLY_PATH, include_in_schema=False)
async def plotly_script(request: Request) -> Response:
    return _send(request, _plotly(), "text/javascript; charset=utf-8", IMMUTABLE)


def pages_for(role: ApiKeyRole) -> list[DashboardPage]:
    return [
        page
        for page, needed in PAGE_SCOPES.items()
        if all(routes.allowed(role, scope) for scope in needed)
    ]


@router.get(
    "/v1/dashboard/session",
    response_model=DashboardSession,
    responses=problem_responses(403, 429),
    summary="The dashboard's view of the key presented",
)
async def dashboard_session(request: Request) -> DashboardSession:
    """The key's role, its scopes and the dashboard pages it may open. Keys of the
    marketing and admin roles only: any other key is refused with 403 (it lacks
    `segments:read`)."""
    caller: Caller = request.state.caller
    return DashboardSession(
        role=caller.role,
        key_id=caller.key_id,
        scopes=sorted(scope.value for scope in routes.ROLE_SCOPES[caller.role]),
        pages=pages_for(caller.role),
    )
