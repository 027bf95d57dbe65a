"""The configuration reference in docs/gateway.md is the one the settings class defines."""

from __future__ import annotations

import os
import re
from pathlib import Path

from crm_gateway.settings import GatewaySettings
from crm_shared.settings import reference_table

DOC = Path(__file__).parents[2] / "docs" / "gateway.md"
SECTION = re.compile(r"(<!-- settings:gateway -->\n)(.*?)(<!-- /settings:gateway -->)", re.DOTALL)


def test_the_gateway_settings_reference_is_current() -> None:
    text = DOC.read_text()
    match = SECTION.search(text)
    assert match, "docs/gateway.md has no settings section"
    expected = reference_table(GatewaySettings) + "\n"
    if os.environ.get("CRM_UPDATE_DOCS") == "1":
        DOC.write_text(SECTION.sub(lambda m: m[1] + expected + m[3], text))
        return
    assert match[2] == expected, "run `CRM_UPDATE_DOCS=1 make test` to regenerate"
