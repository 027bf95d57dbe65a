"""Errors of the orders domain."""

from __future__ import annotations

from crm_shared.errors import Conflict, NotFound, Unprocessable
from crm_shared.schemas.orders import OrderImportReport


class OrderNotFound(NotFound):
    slug = "order-not-found"
    title = "Order not found"


class OrderExists(Conflict):
    slug = "order-exists"
    title = "An order with this external_ref exists"


class OrderLinesInvalid(Unprocessable):
    """Lines name products that cannot be sold on this order; `errors` names each line."""

    slug = "order-lines-invalid"
    title = "Lines of the order cannot be placed"


class InvalidTransition(Conflict):
    slug = "invalid-transition"
    title = "The order cannot move to this status"


class RefundNotAllowed(Conflict):
    slug = "refund-not-allowed"
    title = "Only paid, shipped or delivered orders can be refunded"


class RefundExceedsLine(Conflict):
    slug = "refund-exceeds-line"
    title = "The refund is more than what is left on a line"


class OrderLineNotFound(Unprocessable):
    slug = "order-line-not-found"
    title = "The refund names a line that is not on this order"


class ImportRejected(Unprocessable):
    """`on_error=abort` and at least one row was invalid: the report says which."""

    slug = "import-rejected"
    title = "Rows of the import are invalid; nothing was stored"

    def __init__(self, report: OrderImportReport) -> None:
        super().__init__(
            f"{report.rejected} of {report.received} row(s) are invalid; nothing was stored. "
            "Fix them, or import with on_error=skip to store the valid rows.",
            report=report.model_dump(mode="json"),
        )
        self.report = report
