"""Errors of the catalogue domain."""

from __future__ import annotations

from crm_shared.errors import Conflict, NotFound, Unprocessable
from crm_shared.schemas.catalogue import ImportReport


class ProductNotFound(NotFound):
    slug = "product-not-found"
    title = "Product not found"


class ProductExists(Conflict):
    slug = "product-exists"
    title = "A product with this sku exists"


class ImportRejected(Unprocessable):
    """`on_error=abort` and at least one row was invalid: the report says which."""

    slug = "import-rejected"
    title = "Rows of the import are invalid; nothing was stored"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"{report.rejected} of {report.received} row(s) are invalid; nothing was stored. "
            "Fix them, or import with on_error=skip to store the valid rows.",
            report=report.model_dump(mode="json"),
        )
        self.report = report
