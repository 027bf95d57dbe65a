"""The customer-existence client against the real customer service: batches and the cache."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from crm_orders.customers import CustomerDirectory, CustomerNotFound, CustomerServiceUnavailable
from crm_shared.http import service_client
from crm_shared.testing import TEST_SERVICE_TOKEN, ServiceProcess, free_port


@pytest.fixture
async def http(customer_service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with service_client(customer_service.url, TEST_SERVICE_TOKEN) as client:
        yield client


async def test_many_customers_are_checked_in_batches(http: httpx.AsyncClient, new_customer) -> None:
    known = [uuid.UUID(await new_customer()) for _ in range(3)]
    strangers = [uuid.uuid4() for _ in range(450)]
    directory = CustomerDirectory(http, cache_seconds=60)
    asked = [*strangers[:200], known[0], *strangers[200:], *known[1:], known[0]]
    assert await directory.missing(asked) == set(strangers)
    assert await directory.missing(known) == set()
    assert await directory.missing([]) == set()


async def test_customers_that_exist_are_remembered_for_a_while(
    http: httpx.AsyncClient, customer_api: httpx.AsyncClient, new_customer
) -> None:
    customer = await new_customer()
    remembering = CustomerDirectory(http, cache_seconds=60)
    forgetful = CustomerDirectory(http, cache_seconds=0)
    for directory in (remembering, forgetful):
        await directory.require(uuid.UUID(customer))
    await customer_api.delete(f"/v1/customers/{customer}")
    await remembering.require(uuid.UUID(customer))
    assert await remembering.missing([uuid.UUID(customer)]) == set()
    with pytest.raises(CustomerNotFound):
        await forgetful.require(uuid.UUID(customer))
    remembering.forget()
    assert await remembering.missing([uuid.UUID(customer)]) == {uuid.UUID(customer)}


async def test_the_oldest_remembered_customers_go_first(
    http: httpx.AsyncClient, customer_api: httpx.AsyncClient, new_customer
) -> None:
    first, second, third = [uuid.UUID(await new_customer()) for _ in range(3)]
    directory = CustomerDirectory(http, cache_seconds=60, max_remembered=2)
    for customer in (first, second, third):
        await directory.require(customer)
    for customer in (first, second, third):
        await customer_api.delete(f"/v1/customers/{customer}")
    assert await directory.missing([first, second, third]) == {first}


async def test_a_strange_customer_is_never_remembered(http: httpx.AsyncClient) -> None:
    directory = CustomerDirectory(http, cache_seconds=60)
    stranger = uuid.uuid4()
    for _ in range(2):
        with pytest.raises(CustomerNotFound):
            await directory.require(stranger)


async def test_an_unreachable_customer_service_is_never_a_guess() -> None:
    async with service_client(f"http://127.0.0.1:{free_port()}", TEST_SERVICE_TOKEN) as closed:
        directory = CustomerDirectory(closed, cache_seconds=60)
        with pytest.raises(CustomerServiceUnavailable):
            await directory.require(uuid.uuid4())
        with pytest.raises(CustomerServiceUnavailable):
            await directory.missing([uuid.uuid4(), uuid.uuid4()])


async def test_a_refusing_customer_service_is_unavailable_too(
    customer_service: ServiceProcess,
) -> None:
    async with service_client(customer_service.url, "not-the-token") as stranger:
        directory = CustomerDirectory(stranger, cache_seconds=60)
        with pytest.raises(CustomerServiceUnavailable):
            await directory.require(uuid.uuid4())
        with pytest.raises(CustomerServiceUnavailable):
            await directory.missing([uuid.uuid4()])


async def test_a_burst_for_one_customer_asks_the_customer_service_once(
    http: httpx.AsyncClient, new_customer
) -> None:
    customer, stranger = uuid.UUID(await new_customer()), uuid.uuid4()
    asked: list[str] = []

    async def count(request: httpx.Request) -> None:
        asked.append(request.url.path)

    http.event_hooks["request"].append(count)
    directory = CustomerDirectory(http, cache_seconds=60)
    await asyncio.gather(*(directory.require(customer) for _ in range(20)))
    assert asked == [f"/v1/customers/{customer}"]
    outcomes = await asyncio.gather(
        *(directory.require(stranger) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(outcome, CustomerNotFound) for outcome in outcomes)
    assert asked[1:] == [f"/v1/customers/{stranger}"]
    # The answer is not kept for a stranger: the next question asks again.
    with pytest.raises(CustomerNotFound):
        await directory.require(stranger)
    assert len(asked) == 3
