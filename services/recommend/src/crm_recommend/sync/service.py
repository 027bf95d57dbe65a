"""A sync pulls every feed after its cursor: customers first (so lines of a customer who
is gone are dropped on arrival), then the catalogue, order lines and interactions; then
serving re-reads the catalogue mask. A source that is down leaves its copy as it was."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_recommend import artefact as artefacts
from crm_recommend.database import sync_cursors
from crm_recommend.serving import state as serving
from crm_recommend.settings import RecommendSettings
from crm_recommend.sync import repository
from crm_shared.db import Database
from crm_shared.schemas.recommend import FeedPull, SyncReport
from crm_shared.sync import Apply, FeedUnavailable, pull_feed, sources_of

log = logging.getLogger("crm.recommend.sync")

CUSTOMER_FEED = "customers"
ORDERS_FEEDS: tuple[tuple[str, str, Apply], ...] = (
    ("products", "/v1/export/products", repository.apply_products),
    ("order_lines", "/v1/export/order-lines", repository.apply_order_lines),
    ("interactions", "/v1/export/interactions", repository.apply_interactions),
)
FORGETTING_CHANGES = frozenset({"deleted", "merged", "erased"})


async def sync(app: FastAPI) -> SyncReport:
    """Pull every feed once; see the module doc."""
    async with app.state.sync_lock:
        settings: RecommendSettings = app.state.settings
        database: Database = app.state.database
        sources = sources_of(app)
        forgotten: list[str] = []

        async def apply_customers(db: AsyncConnection, lines: list[dict[str, Any]]) -> None:
            for line in lines:
                customer_id = uuid.UUID(line["id"])
                if line["change"] in FORGETTING_CHANGES:
                    merged_into = line.get("merged_into")
                    await repository.forget(
                        db,
                        customer_id,
                        line["change"],
                        uuid.UUID(merged_into) if merged_into else None,
                        dt.datetime.fromisoformat(line["changed_at"]),
                    )
                    forgotten.append(str(customer_id))
                else:
                    await repository.restore(db, customer_id)

        feeds: list[tuple[str, httpx.AsyncClient, str, Apply]] = [
            (CUSTOMER_FEED, sources.customers, "/v1/customers/export", apply_customers)
        ]
        feeds += [(name, sources.orders, path, apply) for name, path, apply in ORDERS_FEEDS]
        pulls: list[FeedPull] = []
        failed: list[str] = []
        for name, client, path, apply in feeds:
            try:
                result = await pull_feed(
                    database,
                    sync_cursors,
                    name,
                    client,
                    path,
                    apply,
                    batch_lines=settings.sync_batch_lines,
                )
            except FeedUnavailable:
                failed.append(name)
                continue
            pulls.append(FeedPull(feed=name, lines=result.lines, position=result.position))
        if forgotten:
            await asyncio.to_thread(
                artefacts.scrub_customers, settings.resolved_model_dir(), forgotten
            )
        await serving.refresh(app)
        report = SyncReport(feeds=pulls, forgotten_customers=len(set(forgotten)), failed=failed)
        log.info("sync done", extra={"lines": sum(pull.lines for pull in pulls), "failed": failed})
        return report
