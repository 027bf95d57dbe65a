"""HTTP routes of the copies: pull the feeds now."""

from __future__ import annotations

from fastapi import APIRouter, Request

from crm_recommend.sync import service
from crm_shared.errors import problem_responses
from crm_shared.schemas.recommend import SyncReport

router = APIRouter(prefix="/v1", tags=["sync"])


@router.post(
    "/sync",
    response_model=SyncReport,
    responses=problem_responses(422),
    summary="Pull the orders and customer feeds now",
)
async def sync_now(request: Request) -> SyncReport:
    """Applies every change after the stored cursors (also done on a schedule). Feeds that
    cannot be read are listed in `failed`; their copy stays as it was."""
    return await service.sync(request.app)
