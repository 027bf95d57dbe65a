"""Errors of the privacy domain."""

from crm_shared.errors import Conflict, DomainError, NotFound


class CustomerErased(DomainError):
    """The customer existed but their personal data is gone for good."""

    status = 410
    slug = "customer-erased"
    title = "The customer's personal data was erased"


class AlreadyErased(Conflict):
    slug = "already-erased"
    title = "The customer is already erased"


class ErasureNotFound(NotFound):
    slug = "erasure-not-found"
    title = "The customer was not erased"
