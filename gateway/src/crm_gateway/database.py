"""The gateway's tables hang off this base: only what it owns, its API keys."""

from __future__ import annotations

from sqlmodel import SQLModel

from crm_shared.db import new_registry


class Base(SQLModel, registry=new_registry()):
    pass


metadata = Base.metadata
