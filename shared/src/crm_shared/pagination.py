"""Keyset pagination: opaque cursors that carry the sort key of the last item of a page."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query

from crm_shared.errors import InvalidCursor

MAX_PAGE_SIZE = 500
# Feed positions and counts are 64-bit in the database: a larger number names nothing.
MAX_FEED_POSITION = 2**63 - 1

# The two query parameters of every change feed: `?cursor=` (the last position already
# seen) and `?limit=` (stop after this many changes).
FeedCursor = Annotated[
    int,
    Query(ge=0, le=MAX_FEED_POSITION, description="Position of the last change already seen."),
]
FeedLimit = Annotated[
    int | None,
    Query(ge=1, le=MAX_FEED_POSITION, description="Stop after this many changes."),
]


def encode_cursor(key: Sequence[Any]) -> str:
    raw = orjson.dumps(list(key), default=str)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The sort key a cursor carries; a cursor that was not made by us is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor("The cursor is malformed; pass back a next_cursor unchanged.") from exc
    if not isinstance(key, list) or len(key) != arity:
        raise InvalidCursor("The cursor does not belong to this list.")
    return key


def uuid_after(cursor: str | None) -> uuid.UUID | None:
    """The id a cursor of an id-ordered list carries (None for the first page)."""
    if cursor is None:
        return None
    (value,) = decode_cursor(cursor, 1)
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise InvalidCursor("The cursor does not belong to this list.") from exc


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


async def _page_params(
    limit: int = Query(50, ge=1, le=MAX_PAGE_SIZE, description="Items per page."),
    cursor: str | None = Query(
        None, max_length=512, description="`next_cursor` of the previous page."
    ),
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


# `?limit=&cursor=`. Async, like every dependency: FastAPI runs sync ones in a thread pool.
PageDep = Annotated[PageParams, Depends(_page_params)]


def next_cursor(rows: Sequence[Any], limit: int, key: Any) -> str | None:
    """Given `limit + 1` fetched rows, the cursor of the next page or None on the last one."""
    if len(rows) <= limit:
        return None
    return encode_cursor(key(rows[limit - 1]))
