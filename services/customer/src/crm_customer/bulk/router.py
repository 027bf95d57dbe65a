"""HTTP routes of the bulk domain."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from crm_customer.bulk import service
from crm_customer.bulk.parsing import MEDIA_TYPES, import_format
from crm_customer.settings import CustomerSettings
from crm_shared.deps import SessionDep
from crm_shared.errors import problem_responses
from crm_shared.idempotency import idempotency_key_header
from crm_shared.schemas.customers import ImportErrorPolicy, ImportReport

router = APIRouter(prefix="/v1", tags=["import"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "external_ref,email,first_name,tags,consent_email\n"
                "shop-1,ada@example.com,Ada,vip|newsletter,true\n",
            },
            **{
                media_type: {"schema": {"$ref": "#/components/schemas/CustomerCreate"}}
                for media_type in MEDIA_TYPES
                if media_type != "text/csv"
            },
        },
    }
}


@router.post(
    "/customers/import",
    response_model=ImportReport,
    responses=problem_responses(409, 413, 415, 422),
    summary="Import customers from CSV or NDJSON",
    openapi_extra=_BODY,
)
async def import_customers(
    request: Request,
    session: SessionDep,
    on_error: ImportErrorPolicy = Query(
        ImportErrorPolicy.abort,
        description="`abort`: any invalid row stores nothing (422 with the report); "
        "`skip`: store the valid rows and report the others.",
    ),
    idempotency_key: str | None = Depends(idempotency_key_header),
) -> ImportReport | Response:
    """Create or update customers from a streamed body, in one transaction.

    **Formats.** `text/csv` with a header row naming any of these columns, in any order:
    external_ref, email, first_name, last_name, phone, address_line1, address_line2, city,
    postal_code, region, country, locale, lifecycle_stage, tags (separated by `|`),
    consent_email, consent_sms (`true`/`false`). UTF-8; a BOM, CRLF and quoted cells with
    commas or line breaks are fine; blank lines are skipped. Or `application/x-ndjson`:
    one `CustomerCreate` object per line. `referred_by` cannot be imported.

    **Matching.** A row updates the live customer with its `external_ref`, or, when it
    has none, the one with its `email`; otherwise it creates one. A row whose email
    belongs to another customer than its external_ref is an error, never an overwrite.

    **Updates** change only what the row carries: in CSV an empty cell leaves the stored
    value alone; in NDJSON the fields present are set (`null` clears; an `address`
    replaces the stored one). Tags are added to the customer's tags. CSV consents are
    recorded with source `import`; NDJSON consents as given. A consent the customer
    already has on record is kept with its original source and time.

    **Rows about the same customer** apply in file order: the later row wins. (Such a
    file, run again, replays those changes in order: same end state, but the customers
    it changes twice count as updated again.)

    **Report.** `inserted` and `updated` count customers; `updated` only those whose
    stored values changed, so re-running a file reports 0 and moves nothing in the
    export feed. Row numbers count data rows from 1, without the header or blank lines.
    The first 1000 row errors are listed. With `Idempotency-Key`, a retry gets the first
    report back and changes nothing.

    **One transaction.** All rows commit together or not at all; meanwhile other
    changes to customers wait for the import (each takes the next export position).
    """
    settings: CustomerSettings = request.app.state.settings
    job = service.ImportJob(
        format=import_format(request.headers.get("content-type")),
        policy=on_error,
        batch_size=settings.import_batch_size,
        max_rows=settings.import_max_rows,
    )
    if idempotency_key is None:
        return await service.import_customers(session, request.stream(), job)
    return await service.import_customers_once(session, request.stream(), job, idempotency_key)
