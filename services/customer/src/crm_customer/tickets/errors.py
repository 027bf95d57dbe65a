"""Errors of the tickets domain."""

from crm_shared.errors import Conflict, NotFound, Unprocessable


class TicketNotFound(NotFound):
    slug = "ticket-not-found"
    title = "Ticket not found"


class TicketCustomerNotFound(Unprocessable):
    slug = "ticket-customer-not-found"
    title = "The ticket's customer does not exist"


class InvalidTransition(Conflict):
    slug = "invalid-transition"
    title = "The ticket cannot move to this status"


class SatisfactionNotAllowed(Conflict):
    slug = "satisfaction-not-allowed"
    title = "Satisfaction is rated only on resolved or closed tickets"


class TicketClosed(Conflict):
    slug = "ticket-closed"
    title = "The ticket is closed"


class TicketErased(Conflict):
    slug = "ticket-erased"
    title = "The ticket's customer was erased"
