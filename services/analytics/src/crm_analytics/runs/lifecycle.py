"""Lifecycle stages go back to the customer service after a run, for the customers whose
stage changed. A failed update is logged and left: the stage still differs from the
copy's afterwards, so the next run sends it again. It never fails the run."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

import httpx

from crm_analytics.runs import repository
from crm_analytics.sync import repository as sync_repository
from crm_shared.db import Database

log = logging.getLogger("crm.analytics.lifecycle")

# The customer is gone (deleted, merged or erased since the copy was synced): nothing to do.
_GONE = frozenset({404, 410})


@dataclass(frozen=True)
class PushOutcome:
    pushed: int
    failed: int


async def push_lifecycle_stages(
    database: Database, client: httpx.AsyncClient, run_id: uuid.UUID, concurrency: int
) -> PushOutcome:
    async with database.engine.connect() as db:
        changes = await repository.lifecycle_changes(db, run_id)
    gate = asyncio.Semaphore(concurrency)

    async def push(customer_id: uuid.UUID, stage: str) -> bool | None:
        async with gate:
            try:
                response = await client.patch(
                    f"/v1/customers/{customer_id}", json={"lifecycle_stage": stage}
                )
            except httpx.HTTPError as error:
                log.warning(
                    "lifecycle update failed",
                    extra={"customer_id": str(customer_id), "error": type(error).__name__},
                )
                return False
        if response.status_code in _GONE:
            return None
        if response.status_code != 200:
            log.warning(
                "lifecycle update refused",
                extra={"customer_id": str(customer_id), "status": response.status_code},
            )
            return False
        return True

    results = await asyncio.gather(*(push(row.customer_id, row.lifecycle_stage) for row in changes))
    done = [row for row, result in zip(changes, results, strict=True) if result]
    if done:
        async with database.writer() as db:
            for row in done:
                await sync_repository.set_lifecycle_stage(db, row.customer_id, row.lifecycle_stage)
    failed = sum(1 for result in results if result is False)
    if failed:
        log.warning("lifecycle updates failed", extra={"failed": failed, "run_id": str(run_id)})
    return PushOutcome(pushed=len(done), failed=failed)
