"""The configuration reference in the docs is the one the settings classes define."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from crm_analytics.settings import AnalyticsSettings
from crm_customer.settings import CustomerSettings
from crm_gateway.settings import GatewaySettings
from crm_orders.settings import OrdersSettings
from crm_recommend.settings import RecommendSettings
from crm_shared.settings import ServiceSettings, reference_table

OPERATIONS = Path(__file__).parent.parent / "docs" / "operations.md"
SETTINGS: dict[str, type[ServiceSettings]] = {
    "customer": CustomerSettings,
    "orders": OrdersSettings,
    "analytics": AnalyticsSettings,
    "recommend": RecommendSettings,
    "gateway": GatewaySettings,
}


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_configuration_reference_is_current(service: str) -> None:
    text = OPERATIONS.read_text()
    pattern = re.compile(
        rf"(<!-- settings:{service} -->\n)(.*?)(<!-- /settings:{service} -->)", re.DOTALL
    )
    match = pattern.search(text)
    assert match, f"docs/operations.md has no settings section for {service}"
    expected = reference_table(SETTINGS[service]) + "\n"
    if os.environ.get("CRM_UPDATE_DOCS") == "1":
        OPERATIONS.write_text(pattern.sub(lambda m: m[1] + expected + m[3], text))
        return
    assert match[2] == expected, "run `CRM_UPDATE_DOCS=1 make test` to regenerate"
