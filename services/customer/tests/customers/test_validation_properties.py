"""Property-based: whatever a client sends, a customer is stored whole or not at all."""

from __future__ import annotations

import os

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_shared.db import Database
from crm_shared.testing import assert_problem, count_rows

FIELDS = (
    "external_ref email first_name last_name phone address locale lifecycle_stage "
    "referred_by tags consents"
).split()

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
plausible = {
    "email": st.one_of(st.emails(), st.text(max_size=40)),
    "external_ref": st.text(max_size=120),
    "phone": st.text(alphabet="+0123456789 ()-x", max_size=25),
    "address": st.fixed_dictionaries(
        {}, optional={"country": st.text(max_size=3), "line1": st.text(max_size=220)}
    ),
    "tags": st.lists(st.text(max_size=70), max_size=5),
    "consents": st.lists(
        st.fixed_dictionaries(
            {
                "channel": st.sampled_from(["email", "sms", "fax"]),
                "granted": json_scalars,
                "source": st.text(max_size=5),
            }
        ),
        max_size=3,
    ),
}
payloads = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    st.fixed_dictionaries({}, optional=dict(plausible)),
    json_values,
)

SLOW = settings(
    max_examples=int(os.environ.get("CRM_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@SLOW
@given(payload=payloads)
async def test_any_payload_is_stored_whole_or_refused_with_a_problem(
    client: httpx.AsyncClient, database: Database, payload: object
) -> None:
    before = await count_rows(database, "customers")
    response = await client.post("/v1/customers", json=payload)
    after = await count_rows(database, "customers")
    if response.status_code == 201:
        assert after == before + 1
        stored = (await client.get(f"/v1/customers/{response.json()['id']}")).json()
        assert stored == response.json()
    else:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert after == before


@SLOW
@given(patch=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4))
async def test_any_patch_changes_the_customer_whole_or_not_at_all(
    client: httpx.AsyncClient, new_customer, patch: dict[str, object]
) -> None:
    customer = await new_customer(first_name="Ada")
    path = f"/v1/customers/{customer['id']}"
    response = await client.patch(path, json=patch)
    now = (await client.get(path)).json()
    if response.status_code == 200:
        assert now == response.json()
    else:
        assert 400 <= response.status_code < 500, response.text
        assert now == customer


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "\xff\xfe@example.com"}',  # not UTF-8
        b'{"email": "deep@example.com", "attributes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"email": "surrogate@example.com", "first_name": "\\ud800"}',  # a lone surrogate
        b'{"email": "sur\\udfffrogate@example.com"}',
    ],
    ids=["not-utf8", "deep-nesting", "lone-surrogate-name", "lone-surrogate-email"],
)
async def test_bodies_no_database_could_store_are_a_422(
    client: httpx.AsyncClient, database: Database, body: bytes
) -> None:
    before = await count_rows(database, "customers")
    response = await client.post(
        "/v1/customers", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation-error")
    assert await count_rows(database, "customers") == before


@pytest.mark.parametrize("path", ["/v1/customers/export", "/v1/tickets/export"])
@pytest.mark.parametrize("query", [{"cursor": str(2**63)}, {"limit": str(10**30)}])
async def test_feed_positions_past_64_bits_are_a_422(
    client: httpx.AsyncClient, path: str, query: dict[str, str]
) -> None:
    """Refused before the stream starts, instead of a stream cut off half-way."""
    assert_problem(await client.get(path, params=query), 422, "validation-error")
