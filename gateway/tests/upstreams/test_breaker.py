"""The circuit breaker: closed, open after N failures, half-open probe, closed again."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from crm_gateway.upstreams.breaker import BreakerState, CircuitBreaker
from crm_shared.testing import assert_problem


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_consecutive_failures_and_probes_later() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=5, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()  # a success in between resets the count
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is BreakerState.closed
    assert breaker.refusal() is None
    breaker.record_failure()
    assert breaker.state is BreakerState.open
    assert breaker.refusal() == 5

    clock.now += 4
    assert breaker.refusal() == 1
    clock.now += 1
    assert breaker.refusal() is None  # the probe
    assert breaker.state is BreakerState.half_open
    assert breaker.refusal() is not None  # one probe at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.open  # a failed probe opens it again at once

    clock.now += 5
    assert breaker.refusal() is None
    breaker.record_success()
    assert breaker.state is BreakerState.closed
    assert breaker.refusal() is None


def test_a_probe_that_never_reports_does_not_block_forever() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, open_seconds=2, clock=clock)
    breaker.record_failure()
    clock.now += 2
    assert breaker.refusal() is None  # the probe's caller vanishes without reporting
    clock.now += 2
    assert breaker.refusal() is None  # another probe is allowed


async def test_a_stopped_service_trips_the_breaker_and_a_restart_closes_it(
    lone_gateway, restartable_customer
) -> None:
    async with lone_gateway(
        customer_url=restartable_customer.url,
        upstream_retries=0,
        breaker_failure_threshold=2,
        breaker_open_seconds=1.0,
    ) as app:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer test-bootstrap-admin-key-0123456789abcdef"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=headers
        ) as http:
            path = f"/v1/customers/{uuid.uuid4()}"
            assert (await http.get(path)).status_code == 404  # closed: passes through

            restartable_customer.stop()
            for _ in range(2):
                failed = assert_problem(await http.get(path), 503, "upstream-unavailable")
                assert "circuit" not in failed
            started = time.monotonic()
            refused = await http.get(path)
            problem = assert_problem(refused, 503, "upstream-unavailable")
            assert problem["circuit"] == "open"
            assert int(refused.headers["retry-after"]) == 1
            assert time.monotonic() - started < 0.2

            await asyncio.sleep(1.1)
            probe = assert_problem(await http.get(path), 503, "upstream-unavailable")
            assert "circuit" not in probe  # the probe was tried, and failed
            reopened = assert_problem(await http.get(path), 503, "upstream-unavailable")
            assert reopened["circuit"] == "open"

            restartable_customer.start()
            await asyncio.sleep(1.1)
            assert (await http.get(path)).status_code == 404  # the probe succeeds
            assert (await http.get(path)).status_code == 404  # and the breaker is closed
