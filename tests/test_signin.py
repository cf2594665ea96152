"""Signing in to the admin page: the real MSAL flow against the simulator, and out.

The visitor is played by a requests session for the simulator's pages and by
Flask's test client for ours, each following the other's redirects.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session

from tests.browsing import Browser, Forms
from tests.conftest import USERS, World
from web.signin import local_path


def test_signing_in_shows_who_you_are_and_your_rights(visitor: Browser) -> None:
    answer = visitor.sign_in("admin")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    home = visitor.get("/")
    assert "Welcome, Admin" in home.text
    assert "Delete Interaction" in home.text
    assert "Sign out" in home.text


def test_the_session_cookie_is_secure_http_only_and_lax(visitor: Browser) -> None:
    answer = visitor.sign_in("admin")

    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("interactions_session=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("handle", "says"),
    [
        ("reader", "you have no rights to"),
        ("tracker", "part of the Team, Premium and Business tiers"),
    ],
)
def test_a_user_who_cannot_do_much_is_told_why(
    visitor: Browser, handle: str, says: str
) -> None:
    visitor.sign_in(handle)

    assert says in visitor.get("/").text


def test_a_user_who_is_not_set_up_is_told_so(
    visitor: Browser, db: Session, world: World
) -> None:
    world.users["reader"].is_active = False
    db.merge(world.users["reader"])
    db.flush()

    answer = visitor.sign_in("reader")

    assert answer.status_code == 403
    assert "not set up in Interactions" in answer.text


def test_cancelling_the_sign_in_says_so(visitor: Browser) -> None:
    location = visitor.choose(visitor.sign_in_page(), "Cancel")
    answer = visitor.back_to_site(location)

    assert answer.status_code == 400
    assert "You cancelled signing in." in answer.text


def test_a_callback_with_no_sign_in_under_way_asks_to_sign_in(visitor: Browser) -> None:
    answer = visitor.get("/auth/callback?code=stolen&state=forged")

    assert answer.status_code == 400
    assert "Sign in" in answer.text


def test_a_callback_with_another_state_is_refused(visitor: Browser) -> None:
    location = visitor.choose(visitor.sign_in_page(), USERS["admin"].email)
    query = parse_qs(urlsplit(location).query)
    answer = visitor.get(f"/auth/callback?code={query['code'][0]}&state=forged")

    assert answer.status_code == 400
    assert "did not begin here" in answer.text
    assert "Welcome" not in visitor.get("/").text


def test_signing_out_needs_the_form_token(visitor: Browser) -> None:
    visitor.sign_in("admin")

    refused = visitor.post("/sign-out", {})

    assert refused.status_code == 400
    assert "reload the page" in refused.text
    assert "Welcome, Admin" in visitor.get("/").text


def test_signing_out_forgets_the_session_and_signs_out_at_entra(
    visitor: Browser,
) -> None:
    visitor.sign_in("admin")
    forms = Forms()
    forms.feed(visitor.get("/").text)
    token = forms.forms[0]["fields"]["csrf_token"]

    answer = visitor.post("/sign-out", {"csrf_token": token})

    assert answer.status_code == 302
    assert "/oauth2/v2.0/logout?post_logout_redirect_uri=" in answer.headers["Location"]
    assert "Sign in with Microsoft" in visitor.get("/").text


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/plans/12", "/plans/12"),
        (None, None),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("plans", None),
    ],
)
def test_after_sign_in_only_paths_of_this_site_are_followed(
    target: str | None, kept: str | None
) -> None:
    assert local_path(target) == kept


def test_pages_carry_a_strict_policy(visitor: Browser) -> None:
    page = visitor.get("/")

    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"


def test_a_missing_page_is_a_page_and_a_missing_api_route_is_json(
    visitor: Browser,
) -> None:
    page = visitor.get("/no-such-page")
    api = visitor.get("/api/v1/no-such-route")

    assert page.status_code == api.status_code == 404
    assert page.mimetype == "text/html"
    assert api.json["error"]["code"] == "not_found"
