"""The built-in segments, defined as rules: one per RFM segment, value tier and churn risk
(one per customer cluster comes from each run's clusters, `customer_models.service`)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from crm_analytics.segments.rules import CHURN_RISKS, RFM_SEGMENTS, VALUE_TIERS
from crm_shared.schemas.analytics import SegmentKind


@dataclass(frozen=True)
class SegmentDefinition:
    id: str
    kind: SegmentKind
    name: str
    description: str | None
    rule: str
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


BUILT_IN: dict[str, SegmentDefinition] = {
    **{
        f"rfm-{_slug(name)}": SegmentDefinition(
            id=f"rfm-{_slug(name)}",
            kind=SegmentKind.rfm,
            name=name,
            description=f"Customers in the RFM segment {name}.",
            rule=f"rfm_segment = {_quoted(name)}",
        )
        for name in RFM_SEGMENTS
    },
    **{
        f"tier-{tier}": SegmentDefinition(
            id=f"tier-{tier}",
            kind=SegmentKind.tier,
            name=f"{tier.capitalize()} value",
            description=f"Customers in the {tier} value tier (by lifetime value).",
            rule=f"value_tier = {_quoted(tier)}",
        )
        for tier in VALUE_TIERS
    },
    **{
        f"churn-{risk}": SegmentDefinition(
            id=f"churn-{risk}",
            kind=SegmentKind.churn,
            name=f"{risk.capitalize()} churn risk",
            description=f"Customers whose churn risk is {risk} (by churn probability).",
            rule=f"churn_risk = {_quoted(risk)}",
        )
        for risk in CHURN_RISKS
    },
}
