"""How stale the served data is: the current run and the age of the copies it scored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from crm_shared.db import utcnow

RUN_HEADER = "X-Run-Id"
AS_OF_HEADER = "X-Data-As-Of"
STALENESS_HEADER = "X-Data-Staleness-Seconds"

FRESHNESS_HEADERS = {
    RUN_HEADER: {"description": "The run the answer comes from.", "schema": {"type": "string"}},
    AS_OF_HEADER: {
        "description": "The copies of orders and customers were complete up to this time "
        "when the run scored them (absent before the first run).",
        "schema": {"type": "string", "format": "date-time"},
    },
    STALENESS_HEADER: {
        "description": "Seconds since `X-Data-As-Of`.",
        "schema": {"type": "number"},
    },
}


@dataclass(frozen=True)
class Freshness:
    run: Row[Any] | None

    def headers(self, now: dt.datetime | None = None) -> dict[str, str]:
        if self.run is None:
            return {}
        headers = {RUN_HEADER: str(self.run.id)}
        data_as_of: dt.datetime | None = self.run.data_as_of
        if data_as_of is not None:
            staleness = max(0.0, ((now or utcnow()) - data_as_of).total_seconds())
            headers[AS_OF_HEADER] = data_as_of.isoformat()
            headers[STALENESS_HEADER] = f"{staleness:.0f}"
        return headers


def fresh_responses(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "headers": FRESHNESS_HEADERS}}
