"""The front door of every `/v1` call: key, route, scope, rate limit, body size, then on.

It replaces the service-token check of the services (see `create_service_app`): callers
present API keys; the gateway itself carries the service token to the services.
Order of refusals: 503 (the key store is unreachable and the key not looked up before),
401 (no or unknown key), 404 (no such route), 405 (method not offered), 403 (the key's
role lacks the scope), 429 (rate limit), 413 (body too large).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_gateway import proxy, routes
from crm_gateway.keys.service import KeyStoreUnavailable
from crm_gateway.problems import send_problem
from crm_gateway.routes import Traffic
from crm_gateway.runtime import Runtime
from crm_shared.middleware import ObservabilityMiddleware

_BEARER = b"bearer "
_UNAUTHORIZED = [(b"www-authenticate", b'Bearer realm="crm"')]


def presented_key(scope: Scope) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == _BEARER:
            return value[7:].strip().decode("latin-1")
        if name == b"x-api-key":
            return value.strip().decode("latin-1")
    return None


class FastLane:
    """The process's outermost app: calls the gateway passes on to a service go straight
    to the request-id/metrics layer and the edge, skipping the framework's own layers
    (error pages, body limits, telemetry) that such calls never reach anyway; all other
    calls (the gateway's own routes, docs, health) enter the app as usual."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.edge = ObservabilityMiddleware(EdgeMiddleware(app), metrics=app.state.metrics)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1"):
            route = routes.match(scope["path"])
            if route is not None and route.upstream is not None:
                scope["app"] = self.app
                await self.edge(scope, receive, send)
                return
        await self.app(scope, receive, send)


class EdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        token = presented_key(scope)
        if not token:
            await send_problem(
                scope,
                send,
                status=401,
                slug="missing-api-key",
                title="Unauthorized",
                detail="Send an API key as `Authorization: Bearer <key>` or `X-API-Key`.",
                headers=_UNAUTHORIZED,
            )
            return
        try:
            caller = await runtime.key_ring.recognise(token)
        except KeyStoreUnavailable:
            await send_problem(
                scope,
                send,
                status=503,
                slug="key-store-unavailable",
                title="The key store is unavailable",
                detail="The gateway cannot read its API keys right now; nothing was "
                "forwarded. Retry shortly.",
                headers=[(b"retry-after", b"1")],
            )
            return
        if caller is None:
            await send_problem(
                scope,
                send,
                status=401,
                slug="invalid-api-key",
                title="Unauthorized",
                detail="The API key is unknown or revoked.",
                headers=_UNAUTHORIZED,
            )
            return
        route = routes.match(scope["path"])
        if route is None:
            await send_problem(
                scope,
                send,
                status=404,
                slug="not-found",
                title="Not found",
                detail="No service offers this path.",
            )
            return
        scope["route"] = route  # the metrics and access log label the call by its row
        method: str = scope["method"]
        required = route.scope_for(method)
        if required is None:
            await send_problem(
                scope,
                send,
                status=405,
                slug="method-not-allowed",
                title="Method not allowed",
                detail=f"{method} is not offered on this path.",
            )
            return
        if not routes.allowed(caller.role, required):
            await send_problem(
                scope,
                send,
                status=403,
                slug="insufficient-scope",
                title="Forbidden",
                detail=f"A {caller.role.value} key may not do this; it needs `{required.value}`.",
                required_scope=required.value,
                role=caller.role.value,
            )
            return
        decision = runtime.limiter.take(caller.key_id, caller.role)
        rate_headers = decision.headers
        if not decision.allowed:
            await send_problem(
                scope,
                send,
                status=429,
                slug="rate-limited",
                title="Too many requests",
                detail=f"This key may make {decision.limit} requests at once and then "
                "a steady rate; retry after the time in Retry-After.",
                headers=rate_headers,
            )
            return
        settings = runtime.settings
        bulk = route.traffic is Traffic.bulk
        limit = settings.max_bulk_body_bytes if bulk else settings.max_body_bytes
        has_body, length = proxy.request_framing(scope)
        if length is not None and length > limit:
            await proxy.too_large(scope, send, limit, rate_headers)
            return
        scope.setdefault("state", {})["caller"] = caller
        if route.upstream is None:
            await self._serve_here(scope, receive, send, has_body, limit, rate_headers)
            return
        upstream = runtime.upstreams.get(route.upstream)
        if upstream is None:
            await send_problem(
                scope,
                send,
                status=503,
                slug="upstream-unavailable",
                title="A service this request depends on is unavailable",
                detail=f"The {route.upstream} service is not configured at this gateway.",
                headers=rate_headers,
                upstream=route.upstream,
            )
            return
        await proxy.forward(
            scope,
            receive,
            send,
            upstream=upstream,
            has_body=has_body,
            length=length,
            body_limit=limit,
            timeout_seconds=settings.bulk_timeout_seconds
            if bulk
            else settings.upstream_timeout_seconds,
            extra_headers=rate_headers,
        )

    async def _serve_here(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        has_body: bool,
        limit: int,
        rate_headers: list[tuple[bytes, bytes]],
    ) -> None:
        """The gateway's own routes; their bodies are small, so they are read first."""
        if has_body:
            try:
                body = await proxy.ClientBody(receive, limit).read()
            except proxy.BodyTooLarge:
                await proxy.too_large(scope, send, limit, rate_headers)
                return
            except proxy.ClientGone:
                return
            replayed = False

            async def receive_body() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            receive = receive_body

        async def send_with_rate_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *rate_headers]
            await send(message)

        await self.app(scope, receive, send_with_rate_headers)
