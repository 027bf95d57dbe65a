"""Errors of the customer 360 read."""

from crm_shared.errors import DomainError, NotFound, UpstreamUnavailable


class CustomerNotFound(NotFound):
    slug = "customer-not-found"
    title = "Customer not found"


class ProfileUnavailable(UpstreamUnavailable):
    """Without the profile there is no customer to gather the rest around."""


class ProfileInvalid(DomainError):
    status = 502
    slug = "upstream-failed"
    title = "A service this request depends on failed"
