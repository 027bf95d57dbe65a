"""The dashboard in a real browser (Debian's chromium driven by Playwright) against the
whole stack started by `crm run` with a small demo shop: sign-in, every page, charts
checked against the API's own figures, a segment's members and their CSV download.

Screenshots of each page go to var/test-artifacts/dashboard/."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_shared.testing import free_port, start_demo_stack, wait_for_output

pytestmark = pytest.mark.e2e
SERVICES = ("customer", "orders", "analytics", "recommend", "gateway")
DEMO_CUSTOMERS = 300
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "dashboard"
REQUIRE_BROWSER = os.environ.get("CRM_TEST_REQUIRE_BROWSER") == "1"


def _chromium() -> str:
    """Debian's chromium, or a skip (a failure when CRM_TEST_REQUIRE_BROWSER=1)."""
    found = os.environ.get("CRM_TEST_CHROMIUM") or shutil.which("chromium")
    reason = ""
    if not found:
        reason = "no chromium executable (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed"
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"CRM_TEST_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def chromium() -> str:
    """Checked before the stack starts, so a skip costs nothing."""
    return _chromium()


@pytest.fixture(scope="module")
def stack(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The gateway's URL and the demo keys of a running stack whose first scoring and
    training runs are done."""
    var = tmp_path_factory.mktemp("dashboard") / "var"
    ports = {name: free_port() for name in SERVICES}
    process = start_demo_stack(var, ports, DEMO_CUSTOMERS)
    try:
        output = wait_for_output(process, "Ctrl-C stops everything")
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        assert f"{gateway}/dashboard/" in output, "the start-up banner names the dashboard"
        keys = json.loads((var / "demo-keys.json").read_text())
        _wait_for_first_runs(gateway, keys["admin"])
        _train_another_model(gateway, keys["admin"])
        yield {"url": gateway, "keys": keys}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_first_runs(gateway: str, admin_key: str, timeout: float = 240) -> None:
    headers = {"X-API-Key": admin_key}
    deadline = time.monotonic() + timeout
    while True:
        runs = httpx.get(f"{gateway}/v1/runs?limit=1", headers=headers).json()["items"]
        models = httpx.get(f"{gateway}/v1/models?limit=1", headers=headers).json()["items"]
        if runs and runs[0]["status"] == "succeeded" and models and models[0]["metrics"]:
            return
        assert time.monotonic() < deadline, (runs, models)
        time.sleep(1)


def _train_another_model(gateway: str, admin_key: str, timeout: float = 180) -> None:
    """A second model version, so the evaluation compares the current one with another."""
    headers = {"X-API-Key": admin_key}
    started = httpx.post(
        f"{gateway}/v1/models/training-runs",
        json={"model": "item_knn", "activate": True},
        headers=headers,
    )
    assert started.status_code in (201, 202), started.text
    deadline = time.monotonic() + timeout
    while True:
        run = httpx.get(
            f"{gateway}/v1/models/training-runs/{started.json()['id']}", headers=headers
        ).json()
        if run["status"] == "succeeded":
            return
        assert run["status"] != "failed", run
        assert time.monotonic() < deadline, run
        time.sleep(1)


def _api(stack: dict[str, Any], path: str, role: str = "marketing") -> Any:
    response = httpx.get(
        stack["url"] + path, headers={"X-API-Key": stack["keys"][role]}, timeout=60
    )
    assert response.status_code == 200, (path, response.text)
    return response.json()


def _open(page: Any, stack: dict[str, Any], route: str) -> None:
    """Go to a page of the dashboard and wait until it has drawn."""
    before = page.evaluate("document.getElementById('page').dataset.ready || ''")
    page.evaluate(f"location.hash = {route!r}")
    page.wait_for_function(
        "([page, before]) => { const root = document.getElementById('page');"
        " return root.dataset.page === page && (root.dataset.ready || '') !== before"
        " && !root.querySelector('[aria-busy=true]'); }",
        arg=[route.split("/")[1], before],
    )


def _chart(page: Any, chart_id: str) -> list[dict[str, Any]]:
    """The traces Plotly drew in a chart, as plain data."""
    page.wait_for_selector(f"#{chart_id}[data-rendered=true] .main-svg")
    traces: list[dict[str, Any]] = page.evaluate(
        f"JSON.parse(JSON.stringify(document.getElementById('{chart_id}').data))"
    )
    return traces


def _shoot(page: Any, name: str) -> None:
    shown = page.locator("body").inner_text()
    assert "[object" not in shown, "a value was rendered as an object"
    assert "undefined" not in shown, shown
    assert "NaN" not in shown, shown
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_every_page_draws_the_apis_figures(chromium: str, stack: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 1440, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(stack["url"] + "/dashboard/")

        # Signed out: the form only, no pages and no sign-out.
        page.get_by_label("API key").wait_for()
        assert not page.get_by_role("button", name="Sign out").is_visible()
        assert not page.get_by_role("navigation", name="Pages").is_visible()
        # A storefront key is refused with a clear message.
        _sign_in(page, stack["keys"]["storefront"])
        refusal = page.locator("#sign-in-error")
        refusal.wait_for()
        page.wait_for_function("document.getElementById('sign-in-error').textContent !== ''")
        assert "marketing or admin" in refusal.inner_text()
        assert "storefront" in refusal.inner_text()
        _shoot(page, "0-sign-in-refused")

        _sign_in(page, stack["keys"]["marketing"])
        page.wait_for_function("document.getElementById('page').dataset.page === 'overview'")
        _check_overview(page, stack)
        _check_segments(page, stack)
        _check_value(page, stack)
        customer_id = _check_recommendations(page, stack)

        # The customer page is an admin's: a marketing key is told so.
        _open(page, stack, f"#/customer/{customer_id}")
        assert "customers:read" in page.locator("#page .notice").inner_text()
        _open(page, stack, "#/overview")
        page.get_by_role("button", name="Sign out").click()
        _sign_in(page, stack["keys"]["admin"])
        page.wait_for_function("document.getElementById('page').dataset.ready")
        _check_customer(page, stack, customer_id)
        assert errors == [], errors
        browser.close()


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _check_overview(page: Any, stack: dict[str, Any]) -> None:
    page.wait_for_selector("#chart-sales[data-rendered=true]")
    summary = _api(stack, "/v1/scores/summary")
    sales = _api(stack, "/v1/orders/summary?interval=week&periods=26")
    assert summary["customers"] > 0
    assert sales["orders"] > 0
    assert _number(page.locator("#kpi-customers .value").inner_text()) == summary["customers"]
    assert _number(page.locator("#kpi-orders .value").inner_text()) == sales["orders"]
    traces = _chart(page, "chart-sales")
    bars = traces[0]
    assert sum(bars["y"]) == sales["orders"]
    assert len(bars["x"]) == 26
    revenue = next(trace for trace in traces if trace["name"].startswith("Revenue"))
    currency = revenue["name"][len("Revenue (") : -1]
    expected = [float(p["net_revenue"]) for p in sales["periods"] if p["currency"] == currency]
    assert revenue["y"] == pytest.approx(expected)
    runs = _api(stack, "/v1/runs?limit=5")["items"]
    assert page.locator("#table-runs tbody tr").count() == len(runs)
    assert "succeeded" in page.locator("#table-runs tbody tr").first.inner_text()
    assert page.locator("#table-training tbody tr").count() >= 1

    page.select_option("#sales-interval", "month")
    page.wait_for_function("document.getElementById('chart-sales').data[0].x.length === 24")
    monthly = _api(stack, "/v1/orders/summary?interval=month&periods=24")
    assert sum(_chart(page, "chart-sales")[0]["y"]) == monthly["orders"]
    _shoot(page, "1-overview")


def _check_segments(page: Any, stack: dict[str, Any]) -> None:
    _open(page, stack, "#/segments")
    summary = _api(stack, "/v1/scores/summary")
    segments = _api(stack, "/v1/segments?limit=200")["items"]
    (heatmap,) = _chart(page, "chart-rfm")
    assert sum(sum(row) for row in heatmap["z"]) == summary["customers"]
    cell = max(summary["rfm_grid"], key=lambda c: c["customers"])
    assert heatmap["z"][cell["r_score"] - 1][cell["f_score"] - 1] == cell["customers"]
    page.select_option("#rfm-metric", "revenue")
    page.wait_for_function(
        f"Math.abs(document.getElementById('chart-rfm').data[0].z[{cell['r_score'] - 1}]"
        f"[{cell['f_score'] - 1}] - {cell['revenue']}) < 0.01"
    )
    (sizes,) = _chart(page, "chart-segment-sizes")
    shown = dict(zip(sizes["y"], sizes["x"], strict=True))
    assert shown == {s["name"]: s["size"] for s in segments if s["size"] is not None}
    assert _chart(page, "chart-segment-trend"), "a line per segment with history"
    assert page.locator("#table-segments tbody tr").count() == len(segments)
    _shoot(page, "2-segments")

    # Follow the largest RFM segment to its members, page on, and download its CSV.
    segment = max((s for s in segments if s["kind"] == "rfm"), key=lambda s: s["size"] or 0)
    page.get_by_role("link", name=segment["name"], exact=True).click()
    page.wait_for_selector("#table-members")
    members = _api(
        stack, f"/v1/segments/{segment['id']}/members?limit=25&channel=email&consent=granted"
    )
    shown_ids = page.locator("#table-members tbody tr td:first-child a").evaluate_all(
        "links => links.map(link => link.getAttribute('href').split('/').pop())"
    )
    assert shown_ids == [member["customer_id"] for member in members["items"]]
    if members["next_cursor"]:
        page.get_by_role("button", name="Next page").click()
        page.wait_for_function(
            "document.getElementById('members-position').textContent.startsWith('Page 2')"
        )
        second = _api(
            stack,
            f"/v1/segments/{segment['id']}/members?limit=25&channel=email&consent=granted"
            f"&cursor={members['next_cursor']}",
        )
        first_shown = page.locator("#table-members tbody tr td:first-child a").first
        assert first_shown.get_attribute("href").endswith(second["items"][0]["customer_id"])
    _shoot(page, "3-segment-members")

    with page.expect_download() as started:
        page.get_by_role("button", name="Download CSV").click()
    download = started.value
    saved = ARTIFACTS / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename == f"segment-{segment['id']}-email.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_bytes().decode(), newline="")))
    exported = httpx.get(
        f"{stack['url']}/v1/segments/{segment['id']}/members.csv",
        headers={"X-API-Key": stack["keys"]["marketing"]},
    )
    assert saved.read_bytes() == exported.content
    assert rows
    assert rows[0]["customer_id"] == members["items"][0]["customer_id"]
    assert all(row["consent_email"].lower() == "true" for row in rows)


def _check_value(page: Any, stack: dict[str, Any]) -> None:
    _open(page, stack, "#/value")
    histogram = _api(stack, "/v1/scores/distribution?measure=clv&bins=30")
    (bars,) = _chart(page, "chart-distribution")
    assert bars["y"] == [b["customers"] for b in histogram["bins"]]
    assert sum(bars["y"]) == histogram["customers"] > 0
    summary = _api(stack, "/v1/scores/summary")
    tiers = _chart(page, "chart-tiers")
    by_tier = dict(zip(tiers[0]["x"], tiers[0]["y"], strict=True))
    assert by_tier == {tier["name"]: tier["customers"] for tier in summary["tiers"]}
    churn = httpx.get(
        f"{stack['url']}/v1/insights/churn", headers={"X-API-Key": stack["keys"]["marketing"]}
    )
    if churn.status_code == 200 and not churn.json().get("skipped"):
        bands = _chart(page, "chart-churn")[0]
        assert dict(zip(bands["x"], bands["y"], strict=True)) == {
            band["name"]: band["customers"] for band in churn.json()["bands"]
        }
    else:
        assert "not computed" in page.locator("#page").inner_text()
    page.select_option("#distribution-measure", "frequency")
    frequency = _api(stack, "/v1/scores/distribution?measure=frequency&bins=30")
    page.wait_for_function(
        "document.getElementById('chart-distribution').data[0].y.join() === "
        f"{json.dumps(','.join(str(b['customers']) for b in frequency['bins']))}"
    )
    page.select_option("#distribution-measure", "clv")
    page.wait_for_function(
        "document.getElementById('chart-distribution').data[0].y.join() === "
        f"{json.dumps(','.join(str(b['customers']) for b in histogram['bins']))}"
    )
    _shoot(page, "4-value")


def _check_recommendations(page: Any, stack: dict[str, Any]) -> str:
    customer_id: str = _api(stack, "/v1/scores?limit=1")["items"][0]["customer_id"]
    _open(page, stack, f"#/recommendations/{customer_id}")
    expected = _api(stack, f"/v1/recommendations/{customer_id}?limit=10")
    rows = page.locator("#table-recommendations tbody tr")
    assert rows.count() == len(expected["items"]) > 0
    assert expected["items"][0]["reason"] in rows.first.inner_text()
    versions = [v for v in _api(stack, "/v1/models?limit=6")["items"] if v["metrics"]]
    traces = _chart(page, "chart-evaluation")
    assert len(traces) == len(versions)
    newest = traces[-1]
    metrics = versions[0]["metrics"]
    assert newest["y"] == pytest.approx(
        [metrics["precision"], metrics["recall"], metrics["ndcg"], metrics["map"]]
    )
    _shoot(page, "5-recommendations")
    return customer_id


def _check_customer(page: Any, stack: dict[str, Any], customer_id: str) -> None:
    _open(page, stack, f"#/customer/{customer_id}")
    view = _api(stack, f"/v1/customers/{customer_id}/360", role="admin")
    text = page.locator("#customer-360").inner_text()
    assert view["customer"]["email"] in text
    segments = page.locator("#customer-segments li").all_inner_texts()
    assert sorted(segments) == sorted(s["name"] for s in view["scores"]["segments"])
    if view["recommendations"]:
        rows = page.locator("#table-customer-recommendations tbody tr")
        assert rows.count() == len(view["recommendations"]["items"])
    _shoot(page, "6-customer")
