"""Segments: definitions (built-in and custom), their members in a run, CSV exports."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row

from crm_analytics.customer_models import service as customer_models
from crm_analytics.database import Db
from crm_analytics.runs import repository as runs_repository
from crm_analytics.segments import repository
from crm_analytics.segments.builtin import BUILT_IN, SegmentDefinition
from crm_analytics.segments.errors import BuiltInSegment, SegmentExists, SegmentNotFound
from crm_analytics.segments.rules import compile_rule, parse_rule
from crm_shared.db import Database, utcnow
from crm_shared.errors import InvalidCursor
from crm_shared.ids import uuid7
from crm_shared.pagination import decode_cursor, encode_cursor, next_cursor, uuid_after
from crm_shared.schemas.analytics import (
    ConsentFilter,
    MemberChannel,
    Segment,
    SegmentCreate,
    SegmentKind,
    SegmentMember,
    SegmentRef,
    SegmentSize,
    SegmentUpdate,
)
from crm_shared.schemas.common import Page

CSV_PAGE = 1000
CSV_COLUMNS = list(SegmentMember.model_fields)


def _definition(row: Row[Any]) -> SegmentDefinition:
    return SegmentDefinition(
        id=str(row.id),
        kind=SegmentKind.custom,
        name=row.name,
        description=row.description,
        rule=row.rule,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def all_definitions(db: Db, run_id: uuid.UUID | None = None) -> list[SegmentDefinition]:
    """Built-in segments (with the clusters of `run_id`, the current run by default),
    then custom ones."""
    if run_id is None:
        run_id = await runs_repository.current_run_id(db)
    clusters = await customer_models.cluster_segments(db, run_id)
    custom = [_definition(row) for row in await repository.custom_segments(db)]
    return [*BUILT_IN.values(), *clusters, *custom]


async def definition(db: Db, segment_id: str) -> SegmentDefinition:
    if segment_id in BUILT_IN:
        return BUILT_IN[segment_id]
    cluster = await customer_models.cluster_segment(db, segment_id)
    if cluster is not None:
        return cluster
    try:
        key = uuid.UUID(segment_id)
    except ValueError:
        key = None
    row = await repository.get_segment(db, key) if key is not None else None
    if row is None:
        raise SegmentNotFound(f"No segment {segment_id}.", segment_id=segment_id)
    return _definition(row)


def _segment(found: SegmentDefinition, run_id: uuid.UUID | None, size: Any) -> Segment:
    return Segment(
        id=found.id,
        kind=found.kind,
        name=found.name,
        description=found.description,
        rule=found.rule,
        run_id=run_id,
        size=int(size.customers) if size is not None else None,
        revenue=float(size.revenue) if size is not None else None,
        created_at=found.created_at,
        updated_at=found.updated_at,
    )


async def list_segments(db: Db, limit: int, cursor: str | None) -> Page[Segment]:
    """Built-in segments first, then custom ones oldest first."""
    start = 0
    if cursor is not None:
        (start,) = decode_cursor(cursor, 1)
        if not isinstance(start, int) or start < 0:
            raise InvalidCursor("The cursor does not belong to this list.")
    definitions = await all_definitions(db)
    run_id = await runs_repository.current_run_id(db)
    sizes = await repository.sizes_in_run(db, run_id) if run_id is not None else {}
    page = definitions[start : start + limit]
    more = start + limit < len(definitions)
    return Page[Segment](
        items=[_segment(found, run_id, sizes.get(found.id)) for found in page],
        next_cursor=encode_cursor([start + limit]) if more else None,
    )


async def read_segment(db: Db, segment_id: str) -> Segment:
    found = await definition(db, segment_id)
    run_id = await runs_repository.current_run_id(db)
    sizes = await repository.sizes_in_run(db, run_id) if run_id is not None else {}
    return _segment(found, run_id, sizes.get(found.id))


async def evaluate(db: Db, run_id: uuid.UUID, found: SegmentDefinition) -> None:
    """Store the segment's members in the run from its rule (replacing any stored)."""
    condition = compile_rule(parse_rule(found.rule), repository.RULE_COLUMNS)
    await repository.drop_members(db, run_id, found.id)
    await repository.add_members(db, run_id, found.id, condition)


async def evaluate_all(db: Db, run_id: uuid.UUID) -> int:
    """Memberships of every segment in a new run, and their sizes; returns the members."""
    definitions = await all_definitions(db, run_id)
    for found in definitions:
        await evaluate(db, run_id, found)
    return await repository.measure(db, run_id, [found.id for found in definitions])


async def _refresh_in_current_run(db: Db, found: SegmentDefinition) -> None:
    run_id = await runs_repository.current_run_id(db)
    if run_id is not None:
        await evaluate(db, run_id, found)
        await repository.measure(db, run_id, [found.id])


async def create_segment(db: Db, payload: SegmentCreate) -> Segment:
    """A custom segment; its members in the current run are stored at once."""
    parse_rule(payload.rule)
    await _unique_name(db, payload.name, None)
    now = utcnow()
    segment_id = uuid7()
    await repository.add_segment(
        db,
        {
            "id": segment_id,
            "name": payload.name,
            "description": payload.description,
            "rule": payload.rule,
            "created_at": now,
            "updated_at": now,
        },
    )
    found = await definition(db, str(segment_id))
    await _refresh_in_current_run(db, found)
    return await read_segment(db, found.id)


async def update_segment(db: Db, segment_id: str, payload: SegmentUpdate) -> Segment:
    found = await _custom(db, segment_id)
    changes = payload.model_dump(exclude_unset=True)
    if "rule" in changes:
        parse_rule(changes["rule"])
    if "name" in changes:
        await _unique_name(db, changes["name"], uuid.UUID(found.id))
    await repository.update_segment(db, uuid.UUID(found.id), updated_at=utcnow(), **changes)
    if "rule" in changes and changes["rule"] != found.rule:
        await _refresh_in_current_run(db, await definition(db, found.id))
    return await read_segment(db, found.id)


async def delete_segment(db: Db, segment_id: str) -> None:
    found = await _custom(db, segment_id)
    await repository.delete_segment(db, uuid.UUID(found.id))


async def _custom(db: Db, segment_id: str) -> SegmentDefinition:
    found = await definition(db, segment_id)
    if found.kind is not SegmentKind.custom:
        raise BuiltInSegment(
            f"Segment {segment_id} is built in; define a custom segment instead.",
            segment_id=segment_id,
        )
    return found


async def _unique_name(db: Db, name: str, own_id: uuid.UUID | None) -> None:
    holder = await repository.segment_named(db, name)
    if holder is not None and holder != own_id:
        raise SegmentExists(f"Segment {holder} is named {name!r} already.", segment_id=str(holder))
    if any(found.name.lower() == name.lower() for found in BUILT_IN.values()):
        raise SegmentExists(f"{name!r} is the name of a built-in segment.")


def _member(row: Row[Any]) -> SegmentMember:
    return SegmentMember.model_validate(row._asdict())


def _consent_channel(channel: MemberChannel, consent: ConsentFilter) -> str | None:
    return channel.value if consent is ConsentFilter.granted else None


async def list_members(
    db: Db,
    segment_id: str,
    *,
    channel: MemberChannel,
    consent: ConsentFilter,
    limit: int,
    cursor: str | None,
) -> Page[SegmentMember]:
    found = await definition(db, segment_id)
    run_id = await runs_repository.current_run_id(db)
    if run_id is None:
        return Page[SegmentMember](items=[], next_cursor=None)
    rows = await repository.members(
        db,
        run_id,
        found.id,
        consent_channel=_consent_channel(channel, consent),
        after=uuid_after(cursor),
        limit=limit,
    )
    return Page[SegmentMember](
        items=[_member(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: [str(row.customer_id)]),
    )


async def members_csv(
    database: Database,
    run_id: uuid.UUID | None,
    segment_id: str,
    *,
    channel: MemberChannel,
    consent: ConsentFilter,
) -> AsyncIterator[bytes]:
    """The members as CSV, page by page, each page read on a connection of its own."""
    yield _csv_lines([CSV_COLUMNS])
    if run_id is None:
        return
    after: uuid.UUID | None = None
    while True:
        async with database.engine.connect() as db:
            rows = await repository.members(
                db,
                run_id,
                segment_id,
                consent_channel=_consent_channel(channel, consent),
                after=after,
                limit=CSV_PAGE,
            )
        page = rows[:CSV_PAGE]
        if page:
            yield _csv_lines([_csv_row(_member(row)) for row in page])
        if len(rows) <= CSV_PAGE:
            return
        after = page[-1].customer_id


def _csv_row(member: SegmentMember) -> list[str]:
    values = member.model_dump(mode="json")
    return [_csv_cell(values[name]) for name in CSV_COLUMNS]


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # the amounts (revenue, lifetime value), to the cent
        return f"{value:.2f}"
    return str(value)


def _csv_lines(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_neutralised(cell) for cell in row])
    return buffer.getvalue().encode()


def _neutralised(cell: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheets: quote it as text.
    if cell[:1] in ("=", "+", "@") or (cell[:1] == "-" and not _numeric(cell)):
        return "'" + cell
    return cell


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


async def segment_history(
    db: Db, segment_id: str, limit: int, cursor: str | None
) -> Page[SegmentSize]:
    found = await definition(db, segment_id)
    rows = await repository.history(db, found.id, uuid_after(cursor), limit)
    return Page[SegmentSize](
        items=[
            SegmentSize(
                run_id=row.run_id,
                as_of=row.as_of,
                measured_at=row.measured_at,
                customers=row.customers,
                revenue=row.revenue,
            )
            for row in rows[:limit]
        ],
        next_cursor=next_cursor(rows, limit, lambda row: [str(row.run_id)]),
    )


async def refs(db: Db, segment_ids: Sequence[str]) -> list[SegmentRef]:
    by_id = {found.id: found for found in await all_definitions(db)}
    return [
        SegmentRef(id=segment_id, name=by_id[segment_id].name, kind=by_id[segment_id].kind)
        for segment_id in segment_ids
        if segment_id in by_id
    ]
