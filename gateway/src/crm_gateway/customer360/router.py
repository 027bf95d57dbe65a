"""HTTP route of the customer 360 read."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request

from crm_gateway.customer360 import service
from crm_gateway.runtime import Runtime
from crm_shared.errors import problem_responses
from crm_shared.schemas.gateway import Customer360

router = APIRouter(prefix="/v1", tags=["customer 360"])

CustomerId = Annotated[uuid.UUID, Path(description="The customer's id.")]


@router.get(
    "/customers/{customer_id}/360",
    response_model=Customer360,
    responses=problem_responses(403, 404, 422, 429, 502),
    summary="A customer with tickets, orders, scores and recommendations",
)
async def customer_360(customer_id: CustomerId, request: Request) -> Customer360:
    """Gathered from every service at once. The profile is required (404 for an unknown
    customer, 503 when the customer service is down); any other part that cannot be had
    is null and listed in `unavailable` with its reason, and `partial` is true."""
    runtime: Runtime = request.app.state.runtime
    return await service.customer_360(
        runtime.upstreams, customer_id, runtime.settings.composite_timeout_seconds
    )
