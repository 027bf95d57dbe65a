"""Errors of the bulk import: each refuses the whole request, so nothing is stored."""

from __future__ import annotations

from crm_shared.errors import DomainError, Unprocessable
from crm_shared.schemas.customers import ImportReport


class UnsupportedImportType(DomainError):
    status = 415
    slug = "unsupported-import-type"
    title = "The import body must be text/csv or application/x-ndjson"


class ImportTooLarge(DomainError):
    status = 413
    slug = "import-too-large"
    title = "The import carries more rows than one request may"


class ImportHeaderInvalid(Unprocessable):
    slug = "import-header-invalid"
    title = "The CSV header names columns that cannot be imported"


class ImportMalformed(Unprocessable):
    slug = "import-malformed"
    title = "The import body cannot be split into rows"


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
