"""HTTP routes of the duplicates domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["duplicates"])
