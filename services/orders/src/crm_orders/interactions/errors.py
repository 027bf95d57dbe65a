"""Errors of the interactions domain."""

from __future__ import annotations

from crm_shared.errors import Unprocessable


class UnknownProduct(Unprocessable):
    slug = "unknown-product"
    title = "The interaction names a product that does not exist"
