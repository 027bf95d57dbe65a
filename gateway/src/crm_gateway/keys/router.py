"""HTTP routes of the keys domain: the admin API under /v1/admin/keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from crm_gateway.keys import service
from crm_gateway.keys.service import Caller
from crm_gateway.runtime import Runtime
from crm_shared.deps import ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.pagination import PageDep
from crm_shared.schemas.common import Page
from crm_shared.schemas.gateway import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

router = APIRouter(prefix="/v1/admin", tags=["keys"])

KeyId = Annotated[str, Path(max_length=16, description="The key's id (`crm_<id>_...`).")]


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(403, 422, 429),
    summary="Create an API key",
)
async def create_key(payload: ApiKeyCreate, request: Request, session: SessionDep) -> ApiKeyCreated:
    """The answer carries the key itself, once: only its hash is stored, so keep it now.

    No `Idempotency-Key` here on purpose: replaying the answer would mean storing the key.
    """
    caller: Caller = request.state.caller
    return await service.create_key(session, payload, created_by=caller.key_id)


@router.get(
    "/keys",
    response_model=Page[ApiKeyRead],
    responses=problem_responses(400, 403, 422, 429),
    summary="List API keys",
)
async def list_keys(db: ReaderDep, page: PageDep) -> Page[ApiKeyRead]:
    """Oldest first, revoked keys included (with `revoked_at`)."""
    return await service.list_keys(db, limit=page.limit, cursor=page.cursor)


@router.get(
    "/keys/{key_id}",
    response_model=ApiKeyRead,
    responses=problem_responses(403, 404, 422, 429),
    summary="Read an API key",
)
async def get_key(key_id: KeyId, db: ReaderDep) -> ApiKeyRead:
    return await service.get_key(db, key_id)


@router.delete(
    "/keys/{key_id}",
    response_model=ApiKeyRead,
    responses=problem_responses(403, 404, 422, 429),
    summary="Revoke an API key",
)
async def revoke_key(key_id: KeyId, request: Request, session: SessionDep) -> ApiKeyRead:
    """Refused at once by this gateway process, and by every replica within
    `GATEWAY_KEY_CACHE_SECONDS`. The key stays listed, with `revoked_at`."""
    revoked = await service.revoke_key(session, key_id)
    runtime: Runtime = request.app.state.runtime
    runtime.key_ring.revoked(key_id)
    return revoked
