"""HTTP routes of the interactions domain."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["interactions"])
