"""A circuit breaker per service: stop calling a service that keeps failing, probe it later.

closed → (N consecutive failures) → open: calls are refused at once for `open_seconds`
→ half-open: one call goes through as a probe; its success closes the breaker, its
failure opens it again. Only transport failures count (no connection, a broken one, a
timeout): a service that answers, even with a 5xx, is reachable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.clock = clock
        self.state = BreakerState.closed
        self.failures = 0
        self._opened_at = 0.0
        self._probe_started = 0.0

    def refusal(self) -> float | None:
        """None when a call may go now; otherwise the seconds until a probe is allowed."""
        if self.state is BreakerState.closed:
            return None
        now = self.clock()
        if self.state is BreakerState.open:
            remaining = self._opened_at + self.open_seconds - now
            if remaining > 0:
                return remaining
            self.state = BreakerState.half_open
            self._probe_started = now
            return None
        # Half-open: one probe at a time; a probe that never reported back (its caller
        # vanished) does not keep the breaker half-open forever.
        if now - self._probe_started < self.open_seconds:
            return self._probe_started + self.open_seconds - now
        self._probe_started = now
        return None

    def record_success(self) -> None:
        self.state = BreakerState.closed
        self.failures = 0

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.half_open or self.failures >= self.failure_threshold:
            self.state = BreakerState.open
            self._opened_at = self.clock()
