"""Every table of the customer service, gathered for migrations."""

from crm_customer.customers.models import Customer, CustomerEvent, CustomerTag, Erasure
from crm_customer.database import feed_counter, idempotency, metadata
from crm_customer.tickets.models import Ticket, TicketNote

__all__ = [
    "Customer",
    "CustomerEvent",
    "CustomerTag",
    "Erasure",
    "Ticket",
    "TicketNote",
    "feed_counter",
    "idempotency",
    "metadata",
]
