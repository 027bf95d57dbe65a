"""`GET /v1/recommendations/{customer_id}`, the storefront's call on every page view,
answered before the router.

It runs inside the request-id, metrics and service-token middleware, so it is logged,
measured and guarded like any route, but skips FastAPI's routing and parameter
machinery, which costs more than building the list. It answers only the plain case: a
query it cannot validate, or any other path or method, goes on to the router, whose
route answers it the same way (422 problems included).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_recommend.serving import service
from crm_recommend.serving.query import ListQuery
from crm_recommend.serving.service import Filters, canonical_category
from crm_recommend.serving.state import current
from crm_recommend.settings import RecommendSettings

PREFIX = "/v1/recommendations/"
# What the metrics and access log call the route, as the router would.
ROUTE = SimpleNamespace(path="/v1/recommendations/{customer_id}")
_HEADERS = [(b"content-type", b"application/json")]


class RecommendationsHotPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            customer_id = path[len(PREFIX) :]
            if path.startswith(PREFIX) and customer_id and "/" not in customer_id:
                query = _query(scope["query_string"])
                if query is not None:
                    await self._answer(scope, send, customer_id, query)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send, customer_id: str, query: ListQuery) -> None:
        app = scope["app"]
        settings: RecommendSettings = app.state.settings
        filters = Filters(
            query.limit,
            query.offset,
            canonical_category(query.category),
            query.exclude,
            settings.exclude_bought,
        )
        body = orjson.dumps(service.personal(current(app), customer_id, filters))
        scope["route"] = ROUTE
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_DEFAULT = ListQuery()


def _query(raw: bytes) -> ListQuery | None:
    """The validated query, or None when it is not valid (the router then says why)."""
    if not raw:
        return _DEFAULT
    values: dict[str, Any] = {}
    excluded: list[str] = []
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if key == "exclude":
            excluded.append(value)
        elif key in ("limit", "offset", "category"):
            values[key] = value
    if excluded:
        values["exclude"] = excluded
    try:
        return ListQuery.model_validate(values)
    except ValidationError:
        return None
