"""Baseline for the read benchmark: the same primary-key select, raw asyncpg, nothing else."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI, Response


def create_app() -> FastAPI:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(os.environ["RAW_DATABASE_URL"], min_size=10, max_size=20)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/customers/{customer_id}")
    async def read(customer_id: uuid.UUID) -> Response:
        assert pool is not None
        row = await pool.fetchrow(
            "SELECT * FROM customers WHERE id = $1 AND deleted_at IS NULL", customer_id
        )
        if row is None:
            return Response(status_code=404)
        return Response(orjson.dumps(dict(row), default=str), media_type="application/json")

    return app
