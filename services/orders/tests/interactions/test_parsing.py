"""A batch line is judged exactly as `InteractionCreate` judges it, by either path."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crm_orders.interactions.parsing import (
    Event,
    EventParser,
    RejectedRow,
    _common_event,
    _validated_event,
)

NOW = dt.datetime.now(dt.UTC)
LATEST = NOW + dt.timedelta(minutes=5)
SOME_UUID = "0192f2a4-7c1e-7b3a-9f00-1c2d3e4f5a6b"

texts = st.one_of(
    st.sampled_from(["s-1", "ev-00000042", "P-00017", "85123A", "a b", " padded", "tail "]),
    st.text(max_size=8),
    st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=60, max_size=110),
    st.sampled_from(["", "   ", "tab\there", "new\nline", "é", "e\u0301", "\u00a0nbsp", "x" * 65]),
)
uuids = st.one_of(
    st.just(SOME_UUID),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.uuids().map(lambda u: f"urn:uuid:{u}"),
    st.sampled_from(
        ["0192f2a4-7c1e-7b3a-9f00-1c2d3e4f5a6g", "0192f2a47c1e-7b3a-9f00-1c2d3e4f5a6b-", "x"]
    ),
    st.integers(),
)
# Hypothesis takes naive bounds.
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC).replace(tzinfo=None)
LAST = dt.datetime(2025, 12, 31, tzinfo=dt.UTC).replace(tzinfo=None)
timestamps = st.one_of(
    st.datetimes(
        min_value=EARLIEST,
        max_value=LAST,
        timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
    ).map(lambda moment: moment.isoformat()),
    st.datetimes(min_value=EARLIEST, max_value=LAST).map(lambda moment: moment.isoformat()),
    st.sampled_from(
        [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00.5Z",
            "2024-05-01T10:00:00.1234567Z",
            "2024-05-01 10:00:00Z",
            "2024-05-01T10:00Z",
            "2024-02-30T10:00:00Z",
            "2024-05-01T10:00:00+25:00",
            "2024-05-01T10:00:00+05",
            "2999-01-01T00:00:00Z",
            "20240501T100000Z",
            "",
        ]
    ),
    st.integers(min_value=0, max_value=2_000_000_000),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.one_of(st.none(), st.booleans(), st.integers(), texts, st.floats(allow_nan=False))
fields: dict[str, Any] = {
    "event_id": st.one_of(st.none(), texts, st.integers()),
    "kind": st.one_of(
        st.sampled_from(
            ["view", "add_to_cart", "remove_from_cart", "wishlist", "rating", "review", "buy"]
        ),
        values,
    ),
    "customer_id": st.one_of(st.none(), uuids),
    "session_id": st.one_of(st.none(), texts),
    "product_id": st.one_of(st.none(), uuids),
    "sku": st.one_of(st.none(), texts),
    "rating": st.one_of(
        st.none(), st.integers(min_value=-1, max_value=7), st.sampled_from([True, 3.0, 2.5, "4"])
    ),
    "review_text": st.one_of(st.none(), texts, st.just("Line one.\nLine two.")),
    "occurred_at": timestamps,
}
anything = st.fixed_dictionaries(
    {"kind": fields["kind"], "occurred_at": timestamps},
    optional={
        **{
            name: strategy
            for name, strategy in fields.items()
            if name not in ("kind", "occurred_at")
        },
        "colour": values,
    },
)
good_texts = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("éß€"),
    min_size=1,
    max_size=70,
)


@st.composite
def plausible(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event, and half the time one of its fields replaced by anything."""
    kind = draw(st.sampled_from(["view", "wishlist", "rating", "review"]))
    event: dict[str, Any] = {"kind": kind, "occurred_at": draw(timestamps.filter(_aware))}
    who = draw(st.sampled_from(["customer", "visitor", "both"]))
    if who != "visitor":
        event["customer_id"] = draw(st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()))
    if who != "customer":
        event["session_id"] = draw(good_texts)
    if draw(st.booleans()):
        event["sku"] = draw(good_texts)
    else:
        event["product_id"] = draw(st.uuids().map(str))
    if kind in ("rating", "review"):
        event["rating"] = draw(st.integers(min_value=1, max_value=5))
    if kind == "review":
        event["review_text"] = draw(good_texts | st.just("Two\nlines"))
    if draw(st.booleans()):
        event["event_id"] = draw(good_texts)
    if draw(st.booleans()):
        name = draw(st.sampled_from([*fields, "colour"]))
        event[name] = draw(fields.get(name, values))
    return event


def _aware(value: object) -> bool:
    return isinstance(value, str) and (value.endswith(("Z", "+00:00", "-05:30")))


events = st.one_of(plausible(), anything)


def _same(fast: Event, full: Event) -> None:
    assert fast == full
    assert fast.occurred_at.utcoffset() == dt.timedelta(0)
    for name in ("customer_id", "product_id"):
        value = getattr(fast, name)
        assert value is None or str(value) == str(getattr(full, name))


@settings(
    max_examples=int(os.environ.get("CRM_HYPOTHESIS_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(event=events)
@example(
    event={
        "kind": "view",
        "session_id": "s-1",
        "sku": "P-1",
        "customer_id": SOME_UUID,
        "occurred_at": "2024-05-01T10:00:00Z",
    }
)
def test_the_quick_path_takes_only_what_full_validation_takes_unchanged(
    event: dict[str, Any],
) -> None:
    line = json.dumps(event).encode()
    fast = _common_event(7, line, LATEST)
    full = _validated_event(7, line)
    if fast is not None:
        assert isinstance(full, Event), (event, full)
        _same(fast, full)


@pytest.mark.parametrize(
    "event",
    [
        {
            "kind": "view",
            "session_id": "s-1",
            "sku": "P-1",
            "customer_id": SOME_UUID,
            "event_id": "ev-1",
            "occurred_at": "2024-05-01T12:00:00.250+02:00",
        },
        {
            "kind": "review",
            "customer_id": SOME_UUID.upper(),
            "product_id": SOME_UUID,
            "rating": 5,
            "review_text": "Good knife",
            "occurred_at": "2024-05-01T10:00:00Z",
        },
        {
            "kind": "rating",
            "session_id": "s",
            "sku": "A",
            "rating": 1,
            "occurred_at": "2024-05-01T10:00:00Z",
        },
    ],
)
def test_plain_storefront_events_take_the_quick_path(event: dict[str, Any]) -> None:
    line = json.dumps(event).encode()
    fast = _common_event(1, line, LATEST)
    assert fast is not None
    full = _validated_event(1, line)
    assert isinstance(full, Event)
    _same(fast, full)


def test_every_line_gets_an_answer_and_errors_name_their_fields() -> None:
    parse = EventParser(NOW).parse
    assert isinstance(parse(1, b'{"kind": "view"'), RejectedRow)
    rejected = parse(
        2, b'{"kind": "view", "sku": " x ", "session_id": "s", "occurred_at": 5, "y": 1}'
    )
    # The sku is trimmed (not an error); the extra field and nothing else is.
    assert isinstance(rejected, RejectedRow)
    assert [error.field for error in rejected.errors] == ["y"]
    trimmed = parse(3, b'{"kind": "view", "sku": " x ", "session_id": "s", "occurred_at": 5}')
    assert isinstance(trimmed, Event)
    assert trimmed.sku == "x"
    assert trimmed.occurred_at == dt.datetime(1970, 1, 1, 0, 0, 5, tzinfo=dt.UTC)
    assert isinstance(trimmed.product_id, type(None))
    assert isinstance(
        parse(
            4,
            orjson.dumps(
                {
                    "kind": "view",
                    "sku": "x",
                    "session_id": "s",
                    "product_id": str(uuid.uuid4()),
                    "occurred_at": "2024-01-01T00:00:00Z",
                }
            ),
        ),
        RejectedRow,
    )
