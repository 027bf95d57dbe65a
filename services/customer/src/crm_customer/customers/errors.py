"""Errors of the customers domain."""

from crm_shared.errors import Conflict, NotFound, Unprocessable


class CustomerNotFound(NotFound):
    slug = "customer-not-found"
    title = "Customer not found"


class CustomerExists(Conflict):
    slug = "customer-exists"
    title = "A customer with this email or external_ref exists"


class ReferrerNotFound(Unprocessable):
    slug = "referrer-not-found"
    title = "The referring customer does not exist"


class SelfReferral(Unprocessable):
    slug = "self-referral"
    title = "A customer cannot refer themselves"


class ReferralCycle(Conflict):
    slug = "referral-cycle"
    title = "The referral would create a cycle"
