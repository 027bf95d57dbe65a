"""FastAPI dependencies every service uses: the request's session and read connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_shared.db import Database


async def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async for session in database.session():
        yield session


async def _reader(request: Request) -> AsyncIterator[AsyncConnection]:
    database: Database = request.app.state.database
    async for connection in database.reader():
        yield connection


# scope="function": the transaction commits before the response is sent, so a client is
# never told "created" about a write that then failed to commit.
DatabaseDep = Annotated[Database, Depends(_database)]
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
ReaderDep = Annotated[AsyncConnection, Depends(_reader, scope="function")]
