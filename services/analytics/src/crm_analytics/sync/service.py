"""Bring the copies up to date from the source feeds; a source that fails is reported."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx

from crm_analytics.database import (
    CUSTOMERS_FEED,
    INTERACTIONS_FEED,
    ORDER_LINES_FEED,
    TICKETS_FEED,
    sync_cursors,
)
from crm_analytics.sync import repository
from crm_analytics.topics import repository as topics
from crm_shared.db import Database, utcnow
from crm_shared.schemas.analytics import FeedSync
from crm_shared.sync import Apply, FeedUnavailable, Sources, feed_states, pull_feed

CUSTOMER_FEED_PATH = "/v1/customers/export"
ORDER_LINES_FEED_PATH = "/v1/export/order-lines"
# Ratings and reviews for the review topics, and complaint and feedback tickets.
INTERACTIONS_FEED_PATH = "/v1/export/interactions"
TICKETS_FEED_PATH = "/v1/tickets/export"


@dataclass(frozen=True)
class SyncReport:
    feeds: list[FeedSync]

    @property
    def data_as_of(self) -> dt.datetime | None:
        """Both copies were complete up to this moment; None if one never was."""
        moments = [feed.synced_at for feed in self.feeds]
        if any(moment is None for moment in moments):
            return None
        return min(moment for moment in moments if moment is not None)


async def sync_all(database: Database, sources: Sources, batch_lines: int) -> SyncReport:
    """Pull both feeds, customers first (so a merge is known before the orders it moves);
    each source failing alone leaves its copy as it was and is reported, not raised."""
    feeds: list[tuple[str, httpx.AsyncClient, str, Apply]] = [
        (CUSTOMERS_FEED, sources.customers, CUSTOMER_FEED_PATH, repository.apply_customers),
        (ORDER_LINES_FEED, sources.orders, ORDER_LINES_FEED_PATH, repository.apply_order_lines),
        (INTERACTIONS_FEED, sources.orders, INTERACTIONS_FEED_PATH, topics.apply_reviews),
        (TICKETS_FEED, sources.customers, TICKETS_FEED_PATH, topics.apply_tickets),
    ]
    pulled: dict[str, int] = {}
    errors: dict[str, str] = {}
    for feed, client, path, apply in feeds:
        try:
            result = await pull_feed(
                database, sync_cursors, feed, client, path, apply, batch_lines=batch_lines
            )
        except FeedUnavailable as error:
            errors[feed] = error.detail
        else:
            pulled[feed] = result.lines
    now = utcnow()
    states = await feed_states(database, sync_cursors)
    report: list[FeedSync] = []
    for feed, *_ in feeds:
        state = states.get(feed)
        report.append(
            FeedSync(
                feed=feed,
                ok=feed not in errors,
                lines=pulled.get(feed, 0),
                position=state.position if state else 0,
                synced_at=state.synced_at if state else None,
                staleness_seconds=state.staleness_seconds(now) if state else None,
                error=errors.get(feed),
            )
        )
    return SyncReport(report)
