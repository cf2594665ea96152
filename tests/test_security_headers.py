"""Security headers on every response, and CSRF on every form of the admin page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.browsing import Browser
from web.csrf import GUARDED_BLUEPRINTS

pytestmark = pytest.mark.security


def argument_free_get_routes(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments
    )


@pytest.fixture
def signed_in(visitor: Browser) -> Browser:
    visitor.sign_in("admin")
    return visitor


def test_every_route_without_arguments_answers_with_the_headers(
    app: Flask, signed_in: Browser
) -> None:
    routes = argument_free_get_routes(app)
    assert "/" in routes and "/api/v1/me" in routes

    for route in routes:
        if route in ("/sign-in", "/sign-out", "/auth/callback"):
            continue  # they leave for Entra ID, tested with the sign-in
        response = signed_in.get(route)
        response.close()
        assert response.headers.get("X-Content-Type-Options") == "nosniff", route
        if response.mimetype == "text/html":
            policy = response.headers["Content-Security-Policy"]
            # The add-in's pages are framed by Outlook and set their own policy.
            if not route.startswith("/addin/"):
                assert "frame-ancestors" in policy, route


@pytest.mark.parametrize(
    "path",
    [
        "/no-such-page",
        "/records/plan/987654",
        "/api/v1/no-such-call",
        "/static/admin.css",
        "/static/slider.js",
        "/interactions/987654/edit",
    ],
)
def test_errors_and_assets_carry_them_too(signed_in: Browser, path: str) -> None:
    response: Any = signed_in.get(path)
    response.close()

    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    if response.mimetype == "text/html":
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_form_of_the_page_refuses_a_post_without_its_token(
    app: Flask, signed_in: Browser
) -> None:
    """CSRF on every state-changing page route, whatever it is."""
    posts = [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ())
        and rule.endpoint.split(".")[0] in GUARDED_BLUEPRINTS
    ]
    assert len(posts) >= 10

    for rule in posts:
        path = rule.build({name: 1 for name in rule.arguments})[1]
        response = signed_in.post(path, {"title": "Forged"})
        assert response.status_code == 400, path
        assert "did not come from this site" in response.get_data(as_text=True), path
