"""Errors of the duplicates domain."""

from crm_shared.errors import Conflict, Unprocessable


class MergeIntoSelf(Unprocessable):
    slug = "merge-into-self"
    title = "A customer cannot be merged into itself"


class DuplicateNotFound(Unprocessable):
    slug = "duplicate-not-found"
    title = "The customer to merge does not exist"


class AlreadyMerged(Conflict):
    slug = "already-merged"
    title = "The customer was already merged into another"
