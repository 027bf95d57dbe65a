"""HTTP routes of the privacy domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import Response

from crm_customer.database import idempotency
from crm_customer.privacy import service
from crm_shared.deps import ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.idempotency import idempotency_key_header
from crm_shared.schemas.customers import ErasureRead, ErasureRequest, GdprExport

router = APIRouter(prefix="/v1", tags=["gdpr"])

CustomerId = Annotated[uuid.UUID, Path(description="The customer's id.")]


@router.get(
    "/customers/{customer_id}/gdpr-export",
    response_model=GdprExport,
    responses=problem_responses(404, 410, 422),
    summary="Export everything held about a customer",
)
async def gdpr_export(customer_id: CustomerId, db: ReaderDep) -> GdprExport:
    """The profile, referred customers, tickets with notes and the whole timeline.

    A soft-deleted customer can still be exported; an erased one is 410 Gone.
    """
    return await service.gdpr_export(db, customer_id)


@router.post(
    "/customers/{customer_id}/erase",
    status_code=status.HTTP_200_OK,
    response_model=ErasureRead,
    responses=problem_responses(404, 409, 422),
    summary="Erase a customer's personal data",
)
async def erase_customer(
    customer_id: CustomerId,
    payload: ErasureRequest,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """Irreversible. The profile is anonymised (the id stays, so orders keep their
    customer), ticket texts are redacted, the timeline is replaced by one `erased` event,
    and the export feed reports the erasure. Soft-deleted customers can be erased too."""
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope=f"POST /v1/customers/{customer_id}/erase",
        request_body=await request.body(),
        status_code=status.HTTP_200_OK,
        produce=lambda: service.erase_customer(session, customer_id, payload),
    )


@router.get(
    "/customers/{customer_id}/erasure",
    response_model=ErasureRead,
    responses=problem_responses(404, 422),
    summary="The record of a customer's erasure",
)
async def get_erasure(customer_id: CustomerId, db: ReaderDep) -> ErasureRead:
    return await service.get_erasure(db, customer_id)
