"""Errors of the topics domain."""

from __future__ import annotations

from crm_shared.errors import NotFound


class ProductReviewsNotFound(NotFound):
    slug = "product-reviews-not-found"
    title = "The product has no reviews or ratings in the current run"


class ReviewKeywordsNotFound(NotFound):
    slug = "review-keywords-not-found"
    title = "No review keywords before the first run"
