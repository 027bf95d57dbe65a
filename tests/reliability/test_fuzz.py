"""Schemathesis against every service's OpenAPI and the gateway's merged one, real processes
on PostgreSQL: no answer is a 5xx, and every answer keeps to what its operation declares
(a declared status code, a declared content type, a body matching the declared schema).

Each operation gets `CRM_FUZZ_EXAMPLES` generated requests of valid data and as many of
invalid data (default 4, derandomised so CI runs the same cases); `make fuzz` runs many
more with fresh randomness.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm_shared.middleware import SERVICE_TOKEN_HEADER
from crm_shared.testing import TEST_SERVICE_TOKEN

from .conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("reliability-fuzz")]
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "4"))
# Some calls are answered when their work is done (a model evaluation spawns the training
# worker on its first call): generous, so a busy machine is not taken for a failure.
TIMEOUT_SECONDS = 120
RANDOM = os.environ.get("CRM_FUZZ_RANDOM", "") in ("1", "true", "yes")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("application/x-ndjson", "application/ndjson")
def ndjson(_context: Any, value: Any) -> bytes:
    """Bulk bodies: one JSON document a line (a generated list becomes its lines)."""
    rows = value if isinstance(value, list) else [value]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def fuzz(base_url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Fuzz every operation of the document at `base_url`; (requests sent, failures)."""
    document = httpx.get(f"{base_url}/openapi.json", timeout=30)
    assert document.status_code == 200, document.text
    schema = schemathesis.openapi.from_dict(document.json())
    sent = 0
    failures: list[str] = []
    with requests.Session() as session:
        session.headers.update(headers)
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=not RANDOM,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: Any) -> None:
                    nonlocal sent
                    sent += 1
                    case.call_and_validate(
                        base_url=base_url, session=session, checks=CHECKS, timeout=TIMEOUT_SECONDS
                    )

                try:
                    call()
                except Unsatisfiable:
                    pass  # nothing of this operation can be made invalid (no parameters)
                except (Exception, BaseExceptionGroup) as exc:
                    causes = getattr(exc, "exceptions", ())
                    detail = "\n".join([str(exc), *(f"  {cause!r}" for cause in causes)])
                    failures.append(f"{operation.label} ({mode.value}): {detail[:3000]}")
    return sent, failures


@pytest.mark.parametrize("service", ["customer", "orders", "analytics", "recommend"])
def test_fuzz_service(crm_stack: Stack, service: str) -> None:
    started = time.monotonic()
    sent, failures = fuzz(
        crm_stack.services[service].url, {SERVICE_TOKEN_HEADER: TEST_SERVICE_TOKEN}
    )
    print(f"{service}: {sent} requests in {time.monotonic() - started:.1f}s")
    assert sent > 0
    assert not failures, "\n\n".join(failures)


def test_fuzz_gateway(crm_stack: Stack) -> None:
    started = time.monotonic()
    sent, failures = fuzz(
        crm_stack.gateway.url, {"Authorization": f"Bearer {crm_stack.bootstrap_key}"}
    )
    print(f"gateway: {sent} requests in {time.monotonic() - started:.1f}s")
    assert sent > 0
    assert not failures, "\n\n".join(failures)
