"""HTTP routes of the segments domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from crm_analytics.freshness import FRESHNESS_HEADERS, fresh_responses
from crm_analytics.scores.service import freshness
from crm_analytics.segments import service
from crm_shared.deps import DatabaseDep, ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.pagination import PageDep
from crm_shared.schemas.analytics import (
    ConsentFilter,
    MemberChannel,
    Segment,
    SegmentCreate,
    SegmentMember,
    SegmentSize,
    SegmentUpdate,
)
from crm_shared.schemas.common import Page

router = APIRouter(prefix="/v1", tags=["segments"])

SegmentId = Annotated[
    str,
    Path(max_length=64, description="`rfm-champions`, `tier-high`, ... or a custom segment's id."),
]
_CHANNEL = Query(MemberChannel.email, description="The marketing channel the list is for.")
_CONSENT = Query(
    ConsentFilter.granted,
    description="`granted`: only customers who consented to `channel`; `any`: everyone.",
)


@router.get(
    "/segments",
    response_model=Page[Segment],
    responses={**fresh_responses("A page of segments"), **problem_responses(400, 422)},
    summary="List built-in and custom segments with their size",
)
async def list_segments(db: ReaderDep, page: PageDep, response: Response) -> Page[Segment]:
    """Built-in segments (each RFM segment, each value tier) first, then custom ones oldest
    first, each with its size and revenue in the current run."""
    response.headers.update((await freshness(db)).headers())
    return await service.list_segments(db, page.limit, page.cursor)


@router.post(
    "/segments",
    status_code=status.HTTP_201_CREATED,
    response_model=Segment,
    responses=problem_responses(409, 422),
    summary="Define a custom segment",
)
async def create_segment(payload: SegmentCreate, session: SessionDep) -> Segment:
    """The rule is checked here: an invalid one is a 422 `invalid-segment-rule` whose
    `position` is the offset of the bad part in `rule`. The members in the current run
    are computed at once. A name in use is a 409 `segment-exists`."""
    return await service.create_segment(session, payload)


@router.get(
    "/segments/{segment_id}",
    response_model=Segment,
    responses={**fresh_responses("The segment"), **problem_responses(404, 422)},
    summary="Read a segment",
)
async def get_segment(segment_id: SegmentId, db: ReaderDep, response: Response) -> Segment:
    response.headers.update((await freshness(db)).headers())
    return await service.read_segment(db, segment_id)


@router.patch(
    "/segments/{segment_id}",
    response_model=Segment,
    responses=problem_responses(404, 409, 422),
    summary="Change a custom segment",
)
async def update_segment(
    segment_id: SegmentId, payload: SegmentUpdate, session: SessionDep
) -> Segment:
    """A new rule recomputes the members in the current run; sizes of earlier runs stay
    as measured. Built-in segments cannot change (409 `built-in-segment`)."""
    return await service.update_segment(session, segment_id, payload)


@router.delete(
    "/segments/{segment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409, 422),
    summary="Delete a custom segment",
)
async def delete_segment(segment_id: SegmentId, session: SessionDep) -> None:
    """Its members and size history go with it. Built-in segments stay (409)."""
    await service.delete_segment(session, segment_id)


@router.get(
    "/segments/{segment_id}/members",
    response_model=Page[SegmentMember],
    responses={**fresh_responses("A page of members"), **problem_responses(400, 404, 422)},
    summary="List a segment's members",
)
async def list_members(
    segment_id: SegmentId,
    db: ReaderDep,
    page: PageDep,
    response: Response,
    channel: MemberChannel = _CHANNEL,
    consent: ConsentFilter = _CONSENT,
) -> Page[SegmentMember]:
    """Members in the current run by customer id, with contact details and consents.
    Only customers who consented to `channel` unless `consent=any`; deleted and erased
    customers never."""
    response.headers.update((await freshness(db)).headers())
    return await service.list_members(
        db, segment_id, channel=channel, consent=consent, limit=page.limit, cursor=page.cursor
    )


@router.get(
    "/segments/{segment_id}/members.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "CSV with a header row; the columns of `SegmentMember`.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": FRESHNESS_HEADERS,
        },
        **problem_responses(404, 422),
    },
    summary="Export a segment's members as CSV",
)
async def members_csv(
    segment_id: SegmentId,
    database: DatabaseDep,
    channel: MemberChannel = _CHANNEL,
    consent: ConsentFilter = _CONSENT,
) -> StreamingResponse:
    """Streamed page by page, never held whole; the same members and filters as
    `/members`. Cells that a spreadsheet would run as a formula are prefixed with `'`."""
    async with database.engine.connect() as db:
        found = await service.definition(db, segment_id)
        fresh = await freshness(db)
    stream = service.members_csv(
        database,
        fresh.run.id if fresh.run is not None else None,
        found.id,
        channel=channel,
        consent=consent,
    )
    filename = f"segment-{found.id}-{channel.value}.csv"
    return StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={
            **fresh.headers(),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@router.get(
    "/segments/{segment_id}/history",
    response_model=Page[SegmentSize],
    responses=problem_responses(400, 404, 422),
    summary="A segment's size in each run",
)
async def segment_history(segment_id: SegmentId, db: ReaderDep, page: PageDep) -> Page[SegmentSize]:
    """Newest run first; a segment created between runs has its first entry measured in
    the run that was current then."""
    return await service.segment_history(db, segment_id, page.limit, page.cursor)
