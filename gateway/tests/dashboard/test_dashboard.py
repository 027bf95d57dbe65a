"""The dashboard's pages, scripts and plotting library, and its session read."""

from __future__ import annotations

import pytest

from crm_gateway.dashboard.router import PLOTLY_PATH
from crm_shared.testing import assert_problem


@pytest.mark.parametrize(
    ("role", "pages"),
    [
        ("marketing", ["overview", "segments", "value", "recommendations"]),
        ("admin", ["overview", "segments", "value", "customer", "recommendations"]),
    ],
)
async def test_the_session_names_the_role_and_its_pages(
    role: str, pages: list[str], new_key, client_with
) -> None:
    key = await new_key(role)
    async with client_with(key) as http:
        response = await http.get("/v1/dashboard/session")
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["role"] == role
    assert session["pages"] == pages
    assert key.startswith(f"crm_{session['key_id']}_")
    assert "segments:read" in session["scopes"]
    assert ("customers:read" in session["scopes"]) == (role == "admin")


async def test_other_keys_are_refused_with_their_role(new_key, client_with) -> None:
    for role in ("storefront", "backoffice"):
        async with client_with(await new_key(role)) as http:
            problem = assert_problem(
                await http.get("/v1/dashboard/session"), 403, "insufficient-scope"
            )
        assert problem["role"] == role
    async with client_with(None) as http:
        assert_problem(await http.get("/v1/dashboard/session"), 401, "missing-api-key")
    async with client_with("crm_000000000000_nope") as http:
        assert_problem(await http.get("/v1/dashboard/session"), 401, "invalid-api-key")


async def test_the_page_and_scripts_are_served_without_a_key(client_with) -> None:
    async with client_with(None) as http:
        moved = await http.get("/dashboard")
        assert moved.status_code == 308
        assert moved.headers["location"] == "/dashboard/"
        page = await http.get("/dashboard/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        assert f'<script src="{PLOTLY_PATH}"></script>' in page.text
        assert 'for="api-key"' in page.text
        script = await http.get("/dashboard/static/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert "/v1/dashboard/session" in script.text
        unchanged = await http.get(
            "/dashboard/static/app.js", headers={"If-None-Match": script.headers["etag"]}
        )
        assert unchanged.status_code == 304
        style = await http.get("/dashboard/static/dashboard.css")
        assert style.headers["content-type"].startswith("text/css")
        for name in ("index.html", "..%2Frouter.py", "nope.js"):
            assert_problem(await http.get(f"/dashboard/static/{name}"), 404)


async def test_the_plotting_library_is_served_compressed_and_cached_for_long(
    client_with,
) -> None:
    async with client_with(None) as http:
        response = await http.get(PLOTLY_PATH, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert "immutable" in response.headers["cache-control"]
        assert "max-age=31536000" in response.headers["cache-control"]
        # The client undid the compression: the same script as the plain answer.
        assert len(response.content) > 1_000_000
        plain = await http.get(PLOTLY_PATH, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == response.content
        assert b"Plotly" in plain.content


async def test_the_session_is_in_the_merged_document_with_its_scope(client_with) -> None:
    async with client_with(None) as http:
        document = (await http.get("/openapi.json")).json()
    operation = document["paths"]["/v1/dashboard/session"]["get"]
    assert operation["x-required-scope"] == "segments:read"
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DashboardSession"
    }
    assert {"401", "403", "429"} <= set(operation["responses"])
    assert not any(path.startswith("/dashboard") for path in document["paths"])
