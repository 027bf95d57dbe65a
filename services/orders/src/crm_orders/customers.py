"""Whether customers exist, asked of the customer service over HTTP and briefly remembered.

Only customers that exist are remembered (for `customer_cache_seconds`): one created a
moment ago must not stay unknown, and one deleted since is at worst accepted for that
long. A customer service that cannot answer is a 503 to our caller, never a guess.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import orjson
from fastapi import Depends, FastAPI, Request

from crm_orders.settings import OrdersSettings
from crm_shared.errors import Unprocessable, UpstreamUnavailable
from crm_shared.http import service_client
from crm_shared.schemas.customers import MAX_CUSTOMER_IDS

log = logging.getLogger("crm.orders.customers")

# Concurrent lookups one batch check keeps in flight: enough to hide the round trips,
# few enough not to crowd the customer service out for its other callers.
LOOKUP_CONCURRENCY = 4
# What one `POST /v1/customers/existing` may name (the customer service's limit).
IDS_PER_LOOKUP = MAX_CUSTOMER_IDS
MAX_REMEMBERED = 500_000


class CustomerNotFound(Unprocessable):
    slug = "customer-not-found"
    title = "The customer does not exist"


class CustomerServiceUnavailable(UpstreamUnavailable):
    slug = "customer-service-unavailable"
    title = "The customer service is unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": "1"}


class CustomerDirectory:
    """Existence checks against the customer service: one customer by
    `GET /v1/customers/{id}`, many by `POST /v1/customers/existing`, which answers with
    the ids alone, 1000 a request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        cache_seconds: float,
        *,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        self.client = client
        self.cache_seconds = cache_seconds
        self.max_remembered = max_remembered
        self._known: dict[uuid.UUID, float] = {}
        # One question in flight per customer: a burst of first orders of one customer
        # waits for the same answer instead of asking the customer service once each.
        self._asking: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def require(self, customer_id: uuid.UUID) -> None:
        """Return if the customer exists; `CustomerNotFound` (422) or a 503 otherwise."""
        if self._remembered(customer_id, time.monotonic()):
            return
        asking = self._asking.get(customer_id)
        if asking is None:
            asking = asyncio.create_task(self._ask(customer_id))
            self._asking[customer_id] = asking
            asking.add_done_callback(lambda _: self._asking.pop(customer_id, None))
        # Shielded: a caller that gives up does not cancel the answer the others wait for.
        await asyncio.shield(asking)

    async def _ask(self, customer_id: uuid.UUID) -> None:
        response = await self._get(f"/v1/customers/{customer_id}", customer_id)
        if response.status_code == 404:
            raise CustomerNotFound(
                f"No customer {customer_id} in the customer service.",
                customer_id=str(customer_id),
            )
        self._check(response)
        self._remember([customer_id])

    async def missing(self, customer_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `customer_ids` the customer service does not know.

        Raises `CustomerServiceUnavailable` when any of them cannot be checked.
        """
        now = time.monotonic()
        unknown = [
            customer_id
            for customer_id in dict.fromkeys(customer_ids)
            if not self._remembered(customer_id, now)
        ]
        if not unknown:
            return set()
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def found_among(chunk: list[uuid.UUID]) -> set[uuid.UUID]:
            async with gate:
                return await self._found(chunk)

        chunks = [unknown[i : i + IDS_PER_LOOKUP] for i in range(0, len(unknown), IDS_PER_LOOKUP)]
        found: set[uuid.UUID] = set().union(*await asyncio.gather(*map(found_among, chunks)))
        self._remember(list(found))
        return set(unknown) - found

    def forget(self) -> None:
        self._known.clear()

    async def _found(self, customer_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        body = orjson.dumps({"ids": customer_ids})
        response = await self._send("POST", "/v1/customers/existing", customer_ids[0], body)
        self._check(response)
        return set(map(uuid.UUID, orjson.loads(response.content)["ids"]))

    async def _get(self, path: str, customer_id: uuid.UUID) -> httpx.Response:
        return await self._send("GET", path, customer_id)

    async def _send(
        self, method: str, path: str, customer_id: uuid.UUID, body: bytes | None = None
    ) -> httpx.Response:
        headers = None if body is None else {"content-type": "application/json"}
        try:
            return await self.client.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("customer service unreachable", extra={"error": type(exc).__name__})
            raise CustomerServiceUnavailable(
                f"The customer service cannot be reached to check customer {customer_id}; "
                "nothing was stored. Retry shortly."
            ) from exc

    def _check(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            log.warning("customer service failed", extra={"status": response.status_code})
            raise CustomerServiceUnavailable(
                f"The customer service answered {response.status_code} when asked about "
                "customers; nothing was stored. Retry shortly."
            )

    def _remembered(self, customer_id: uuid.UUID, now: float) -> bool:
        return self._known.get(customer_id, 0.0) > now

    def _remember(self, customer_ids: list[uuid.UUID]) -> None:
        if not customer_ids or self.cache_seconds <= 0:
            return
        until = time.monotonic() + self.cache_seconds
        known = self._known
        for customer_id in customer_ids:
            known.pop(customer_id, None)
            known[customer_id] = until
        # Oldest entries first (insertion order): past the bound, they are the ones to go.
        while len(known) > self.max_remembered:
            del known[next(iter(known))]


@asynccontextmanager
async def customer_directory(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: the directory (and its pooled HTTP client) lives as long as the app."""
    settings: OrdersSettings = app.state.settings
    async with service_client(
        settings.customer_url, settings.service_token.get_secret_value()
    ) as client:
        app.state.customers = CustomerDirectory(client, settings.customer_cache_seconds)
        yield


async def _directory(request: Request) -> CustomerDirectory:
    directory: CustomerDirectory = request.app.state.customers
    return directory


CustomerDirectoryDep = Annotated[CustomerDirectory, Depends(_directory)]
