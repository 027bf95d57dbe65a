"""Per-key rate limits: a token bucket for each key, its size and rate set by the key's role.

Buckets live in the process: with N gateway replicas a key may reach N times its rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

from crm_gateway.settings import GatewaySettings
from crm_shared.schemas.gateway import ApiKeyRole


class Decision(NamedTuple):
    allowed: bool
    limit: int
    headers: list[tuple[bytes, bytes]]
    """The RateLimit headers every answer to the key carries, and Retry-After on a 429."""


class _Bucket:
    __slots__ = ("burst", "per_second", "tokens", "updated")

    def __init__(self, per_second: float, burst: int, now: float) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now


class RateLimiter:
    def __init__(
        self, settings: GatewaySettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = {role: settings.rate_limit_for(role.value) for role in ApiKeyRole}
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key_id: str, role: ApiKeyRole) -> Decision:
        """Spend one token of the key's bucket if it has one."""
        now = self.clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            limit = self.limits[role]
            bucket = self._buckets[key_id] = _Bucket(limit.per_second, limit.burst, now)
        else:
            elapsed = now - bucket.updated
            bucket.tokens = min(bucket.burst, bucket.tokens + elapsed * bucket.per_second)
            bucket.updated = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        headers = [
            (b"ratelimit-limit", b"%d" % bucket.burst),
            (b"ratelimit-remaining", b"%d" % int(bucket.tokens)),
            (
                b"ratelimit-reset",
                b"%d" % math.ceil((bucket.burst - bucket.tokens) / bucket.per_second),
            ),
        ]
        if not allowed:
            wait = max(1, math.ceil((1.0 - bucket.tokens) / bucket.per_second))
            headers.append((b"retry-after", b"%d" % wait))
        return Decision(allowed, bucket.burst, headers)
