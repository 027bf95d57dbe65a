"""HTTP routes of the catalogue domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import Response

from crm_orders.catalogue import importer, service
from crm_orders.catalogue.repository import ProductFilters
from crm_orders.database import idempotency
from crm_orders.settings import OrdersSettings
from crm_shared.bulk import NDJSON_MEDIA_TYPES, require_ndjson
from crm_shared.deps import ReaderDep, SessionDep
from crm_shared.errors import problem_responses
from crm_shared.idempotency import idempotency_key_header
from crm_shared.pagination import PageDep
from crm_shared.schemas.catalogue import (
    CategoryPath,
    ImportErrorPolicy,
    ImportReport,
    ProductCreate,
    ProductRead,
    ProductUpdate,
)
from crm_shared.schemas.common import Page
from crm_shared.types import ShortText

router = APIRouter(prefix="/v1", tags=["catalogue"])

ProductId = Annotated[uuid.UUID, Path(description="The product's id.")]


async def product_filters(
    category: CategoryPath | None = Query(
        None, description="A category and everything below it, e.g. `home/kitchen`."
    ),
    brand: ShortText | None = Query(None, description="Exact brand, as stored."),
    active: bool | None = Query(None, description="Only active (or only inactive) products."),
    in_stock: bool | None = Query(None),
    q: str | None = Query(
        None, min_length=1, max_length=100, description="Name contains, case-insensitive."
    ),
) -> ProductFilters:
    return ProductFilters(
        category=category, brand=brand, active=active, in_stock=in_stock, name_contains=q
    )


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductRead,
    responses=problem_responses(409, 422),
    summary="Create a product",
)
async def create_product(
    payload: ProductCreate,
    request: Request,
    session: SessionDep,
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> Response:
    """The sku is unique (409 `product-exists`). The price is rounded half up to the
    currency's minor unit; the category path is stored lower-case, segments trimmed."""
    return await idempotency.respond(
        session,
        key=idempotency_key,
        scope="POST /v1/products",
        request_body=await request.body(),
        status_code=status.HTTP_201_CREATED,
        produce=lambda: service.create_product(session, payload),
    )


@router.get(
    "/products",
    response_model=Page[ProductRead],
    responses=problem_responses(400, 422),
    summary="List products",
)
async def list_products(
    db: ReaderDep, page: PageDep, filters: ProductFilters = Depends(product_filters)
) -> Page[ProductRead]:
    """Keyset pages in creation order; every filter given must hold."""
    return await service.list_products(db, filters, limit=page.limit, cursor=page.cursor)


@router.post(
    "/products/import",
    response_model=ImportReport,
    responses=problem_responses(413, 415, 422),
    summary="Create or update products from NDJSON, by sku",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media_type: {"schema": {"$ref": "#/components/schemas/ProductCreate"}}
                for media_type in NDJSON_MEDIA_TYPES
            },
        }
    },
)
async def import_products(
    request: Request,
    session: SessionDep,
    on_error: ImportErrorPolicy = Query(
        ImportErrorPolicy.abort,
        description="`abort`: any invalid row stores nothing (422 with the report); "
        "`skip`: store the valid rows and report the others.",
    ),
) -> ImportReport:
    """One `ProductCreate` object per line, in one transaction.

    A row updates the product with its sku or creates one. It sets the fields it carries;
    omitted fields keep their stored value (`null` clears description, category or
    brand). Rows about the same sku apply in order: the later wins. `updated` counts only
    products whose stored values changed, so re-running a file reports 0 and moves
    nothing in the products feed: retrying an import is safe without an Idempotency-Key.
    Row numbers count non-blank lines from 1; the first 1000 row errors are listed.
    """
    require_ndjson(request.headers.get("content-type"))
    settings: OrdersSettings = request.app.state.settings
    job = importer.ImportJob(
        policy=on_error,
        batch_size=settings.import_batch_size,
        max_rows=settings.import_max_rows,
    )
    return await importer.import_products(session, request.stream(), job)


@router.get(
    "/products/by-sku/{sku:path}",
    response_model=ProductRead,
    responses=problem_responses(404, 422),
    summary="Read a product by its sku",
)
async def get_product_by_sku(
    db: ReaderDep, sku: str = Path(description="Exact, case-sensitive; percent-encoded.")
) -> ProductRead:
    return await service.read_product_by_sku(db, sku)


@router.get(
    "/products/{product_id}",
    response_model=ProductRead,
    responses=problem_responses(404, 422),
    summary="Read a product",
)
async def get_product(product_id: ProductId, db: ReaderDep) -> ProductRead:
    return await service.read_product(db, product_id)


@router.patch(
    "/products/{product_id}",
    response_model=ProductRead,
    responses=problem_responses(404, 409, 422),
    summary="Change a product",
)
async def update_product(
    product_id: ProductId, payload: ProductUpdate, session: SessionDep
) -> ProductRead:
    """Only the given fields change; a change moves the product in the products feed.
    Orders placed earlier keep the price and sku they were placed with."""
    return await service.update_product(session, product_id, payload)


@router.delete(
    "/products/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
    summary="Retire a product (deactivate)",
)
async def delete_product(product_id: ProductId, session: SessionDep) -> None:
    """Products are never removed: orders and interactions keep pointing at them. The
    product becomes inactive (it can no longer be ordered) and stays readable; PATCH
    `active: true` brings it back."""
    await service.retire_product(session, product_id)
