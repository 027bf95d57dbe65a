"""Fixtures of the recommend service suite: every test runs on SQLite and on PostgreSQL.

The sources are the real orders and customer apps (each on its own SQLite database),
reached in process through `httpx.ASGITransport`; training runs in a thread unless a
test asks for the real process pool.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from crm_customer.main import create_app as create_customer_app
from crm_customer.models import metadata as customer_metadata
from crm_customer.settings import CustomerSettings
from crm_orders.customers import CustomerDirectory
from crm_orders.main import create_app as create_orders_app
from crm_orders.models import metadata as orders_metadata
from crm_orders.settings import OrdersSettings
from crm_recommend.main import create_app
from crm_recommend.serving.state import empty_state
from crm_recommend.settings import RecommendSettings
from crm_recommend.tables import metadata
from crm_recommend.training.service import Trainer
from crm_shared.db import Database
from crm_shared.pytest_plugin import ServiceSpec, service_fixtures
from crm_shared.sync import Sources
from crm_shared.testing import TEST_SERVICE_TOKEN, client_for, empty_tables, running_app, sqlite_url


class Shop:
    """The shop as the tests drive it: customers and orders through their own services,
    then a sync and a training run of the recommend service."""

    def __init__(
        self,
        app: FastAPI,
        customers: httpx.AsyncClient,
        orders: httpx.AsyncClient,
        recommend: httpx.AsyncClient,
    ) -> None:
        self.app = app
        self.customers = customers
        self.orders = orders
        self.recommend = recommend
        self._serial = itertools.count(1)

    async def customer(self) -> str:
        number = next(self._serial)
        response = await self.customers.post(
            "/v1/customers", json={"email": f"customer{number}@example.com"}
        )
        assert response.status_code == 201, response.text
        customer_id: str = response.json()["id"]
        return customer_id

    async def product(self, **fields: Any) -> str:
        number = next(self._serial)
        payload = {
            "sku": f"SKU-{number}",
            "name": f"Product {number}",
            "price": "10.00",
            "currency": "EUR",
            "category_path": "home/kitchen",
            **fields,
        }
        response = await self.orders.post("/v1/products", json=payload)
        assert response.status_code == 201, response.text
        product_id: str = response.json()["id"]
        return product_id

    async def update_product(self, product_id: str, **fields: Any) -> None:
        response = await self.orders.patch(f"/v1/products/{product_id}", json=fields)
        assert response.status_code == 200, response.text

    async def order(self, customer_id: str, *product_ids: str) -> str:
        payload = {
            "customer_id": customer_id,
            "channel": "web",
            "currency": "EUR",
            "lines": [{"product_id": product, "quantity": 1} for product in product_ids],
        }
        response = await self.orders.post("/v1/orders", json=payload)
        assert response.status_code == 201, response.text
        order_id: str = response.json()["id"]
        return order_id

    async def interact(
        self,
        customer_id: str,
        product_id: str,
        kind: str = "view",
        *,
        rating: int | None = None,
        days_ago: float = 0.0,
    ) -> None:
        occurred_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago, seconds=1)
        payload: dict[str, Any] = {
            "kind": kind,
            "customer_id": customer_id,
            "product_id": product_id,
            "occurred_at": occurred_at.isoformat(),
        }
        if rating is not None:
            payload["rating"] = rating
        if kind == "review":
            payload["review_text"] = "Nice."
        response = await self.orders.post("/v1/interactions", json=payload)
        assert response.status_code == 201, response.text

    async def sync(self) -> dict[str, Any]:
        response = await self.recommend.post("/v1/sync")
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    async def train(self, **body: Any) -> dict[str, Any]:
        response = await self.recommend.post("/v1/models/training-runs", json=body)
        assert response.status_code == 202, response.text
        await self.app.state.trainer.wait()
        run = await self.recommend.get(f"/v1/models/training-runs/{response.json()['id']}")
        assert run.status_code == 200, run.text
        result: dict[str, Any] = run.json()
        return result

    async def recommendations(self, customer_id: str, **params: Any) -> dict[str, Any]:
        response = await self.recommend.get(f"/v1/recommendations/{customer_id}", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


SPEC = ServiceSpec("recommend", create_app, RecommendSettings, metadata)
globals().update(service_fixtures(SPEC))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def settings(database_url: str, model_dir: Path) -> RecommendSettings:
    return RecommendSettings(
        database_url=database_url,
        service_token=SecretStr(TEST_SERVICE_TOKEN),
        model_dir=str(model_dir),
        sync_interval_seconds=0,
        model_poll_seconds=0,
        default_model="item_knn",
        evaluation_holdout=0.25,
        candidates_per_customer=20,
        similar_per_product=10,
    )


@pytest.fixture(scope="session")
async def customer_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FastAPI]:
    directory = tmp_path_factory.mktemp("customer")
    settings = CustomerSettings(
        database_url=sqlite_url(directory, "customer"),
        service_token=SecretStr(TEST_SERVICE_TOKEN),
    )
    application = create_customer_app(settings)
    async with running_app(application):
        yield application


@pytest.fixture(scope="session")
async def orders_app(
    tmp_path_factory: pytest.TempPathFactory, customer_app: FastAPI
) -> AsyncIterator[FastAPI]:
    directory = tmp_path_factory.mktemp("orders")
    settings = OrdersSettings(
        database_url=sqlite_url(directory, "orders"),
        service_token=SecretStr(TEST_SERVICE_TOKEN),
    )
    application = create_orders_app(settings)
    async with running_app(application), client_for(customer_app) as customers:
        application.state.customers = CustomerDirectory(customers, 0.0)
        yield application


@pytest.fixture
def trainer_threads() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=1)
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture
async def client(
    app: FastAPI,
    database: Database,
    model_dir: Path,
    trainer_threads: ThreadPoolExecutor,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a recommend app starting from nothing: no model, empty copies."""
    await app.state.trainer.close()
    app.state.trainer = Trainer(app, executor_factory=lambda: trainer_threads)
    app.state.serving = empty_state()
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir()  # noqa: ASYNC240 - test set-up
    async with client_for(app) as http:
        yield http
    await app.state.trainer.close()


@pytest.fixture
async def shop(
    app: FastAPI, client: httpx.AsyncClient, customer_app: FastAPI, orders_app: FastAPI
) -> AsyncIterator[Shop]:
    """Empty orders and customer services wired as the recommend app's sources."""
    await empty_tables(customer_app.state.database, customer_metadata)
    await empty_tables(orders_app.state.database, orders_metadata)
    async with client_for(customer_app) as customers, client_for(orders_app) as orders:
        app.state.sources = Sources(customers=customers, orders=orders)
        yield Shop(app, customers, orders, client)


@dataclass
class PlantedShop:
    kitchen: list[str]
    garden: list[str]
    kitchen_fans: list[str]
    garden_fans: list[str]
    newcomer: str


@pytest.fixture
async def planted(shop: Any) -> PlantedShop:
    kitchen = [await shop.product(category_path="home/kitchen") for _ in range(4)]
    garden = [await shop.product(category_path="garden/tools") for _ in range(4)]
    kitchen_fans = [await shop.customer() for _ in range(5)]
    garden_fans = [await shop.customer() for _ in range(5)]
    for number, customer in enumerate(kitchen_fans):
        # Each buys two kitchen products and views a third: the fourth is left to suggest.
        owned = [kitchen[(number + offset) % 4] for offset in range(3)]
        await shop.order(customer, owned[0], owned[1])
        await shop.interact(customer, owned[2], "view")
    for number, customer in enumerate(garden_fans):
        owned = [garden[(number + offset) % 4] for offset in range(3)]
        await shop.order(customer, owned[0], owned[1])
        await shop.interact(customer, owned[2], "view")
    newcomer = await shop.customer()
    await shop.order(newcomer, kitchen[0])
    await shop.sync()
    return PlantedShop(kitchen, garden, kitchen_fans, garden_fans, newcomer)
