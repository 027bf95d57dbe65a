"""Errors of the segments domain."""

from __future__ import annotations

from crm_shared.errors import Conflict, NotFound, Unprocessable
from crm_shared.schemas.common import FieldError


class InvalidRule(Unprocessable):
    slug = "invalid-segment-rule"
    title = "The segment rule is not valid"

    def __init__(self, message: str, position: int) -> None:
        super().__init__(
            f"{message} (at position {position})",
            position=position,
            errors=[FieldError(field="body.rule", message=message, code="invalid_rule")],
        )
        self.message = message
        self.position = position


class SegmentNotFound(NotFound):
    slug = "segment-not-found"
    title = "The segment does not exist"


class SegmentExists(Conflict):
    slug = "segment-exists"
    title = "A segment with this name exists"


class BuiltInSegment(Conflict):
    slug = "built-in-segment"
    title = "Built-in segments cannot be changed"
