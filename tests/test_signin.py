"""Signing in to the admin page: the real MSAL flow against the simulator, and out.

The browser is played by a requests session for the simulator's pages and by
Flask's test client for ours, each following the other's redirects.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import USERS, RunningSimulator, World
from web.signin import _local_path

SITE = "https://localhost"


class Forms(HTMLParser):
    """The forms of a page: their action, hidden fields and buttons with their text."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({**found, "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and found.get("type") == "hidden":
            self.forms[-1]["fields"][found.get("name", "")] = found.get("value", "")
        elif tag == "button" and self.forms:
            self._button = {**found, "text": ""}
            self.forms[-1]["buttons"].append(self._button)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data


class Browser:
    """Just enough of a browser to walk the sign-in, our site and the simulator's."""

    def __init__(self, client: FlaskClient, simulator: RunningSimulator, ca: str):
        self.client = client
        self.simulator = requests.Session()
        self.simulator.trust_env = False
        self.simulator.verify = ca
        self.simulator_url = simulator.url

    def get(self, path: str) -> Any:
        return self.client.get(path, base_url=SITE)

    def post(self, path: str, data: dict[str, str]) -> Any:
        return self.client.post(path, data=data, base_url=SITE)

    def sign_in_page(self) -> requests.Response:
        started = self.get("/sign-in")
        assert started.status_code == 302
        authorize = started.headers["Location"]
        assert authorize.startswith(self.simulator_url)
        page = self.simulator.get(authorize)
        assert page.status_code == 200, page.text
        return page

    def choose(self, page: requests.Response, label: str) -> str:
        """Press the page's button whose text or value names ``label``; our URL."""
        forms = Forms()
        forms.feed(page.text)
        for form in forms.forms:
            for button in form["buttons"]:
                if label in button["text"]:
                    data = dict(form["fields"])
                    if button.get("name"):
                        data[button["name"]] = button.get("value", "")
                    action = form.get("action") or page.url
                    if action.startswith("/"):
                        action = self.simulator_url + action
                    answer = self.simulator.post(
                        action, data=data, allow_redirects=False
                    )
                    assert answer.status_code == 302, answer.text
                    return answer.headers["Location"]

        raise AssertionError(f"no button for {label!r} on the sign-in page")

    def back_to_site(self, location: str) -> Any:
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}" == SITE, location
        return self.get(f"{parts.path}?{parts.query}")

    def sign_in(self, handle: str) -> Any:
        location = self.choose(self.sign_in_page(), USERS[handle].email)
        return self.back_to_site(location)


@pytest.fixture
def browser(app: Flask, running_simulator: RunningSimulator, tls: Any) -> Browser:
    return Browser(app.test_client(), running_simulator, str(tls.ca_path))


def test_signing_in_shows_who_you_are_and_your_rights(browser: Browser) -> None:
    answer = browser.sign_in("admin")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    home = browser.get("/")
    assert "Welcome, Admin" in home.text
    assert "Delete Interaction" in home.text
    assert "Sign out" in home.text


def test_the_session_cookie_is_secure_http_only_and_lax(browser: Browser) -> None:
    answer = browser.sign_in("admin")

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
    browser: Browser, handle: str, says: str
) -> None:
    browser.sign_in(handle)

    assert says in browser.get("/").text


def test_a_user_who_is_not_set_up_is_told_so(
    browser: Browser, db: Session, world: World
) -> None:
    world.users["reader"].is_active = False
    db.merge(world.users["reader"])
    db.flush()

    answer = browser.sign_in("reader")

    assert answer.status_code == 403
    assert "not set up in Interactions" in answer.text


def test_cancelling_the_sign_in_says_so(browser: Browser) -> None:
    location = browser.choose(browser.sign_in_page(), "Cancel")
    answer = browser.back_to_site(location)

    assert answer.status_code == 400
    assert "You cancelled signing in." in answer.text


def test_a_callback_with_no_sign_in_under_way_asks_to_sign_in(browser: Browser) -> None:
    answer = browser.get("/auth/callback?code=stolen&state=forged")

    assert answer.status_code == 400
    assert "Sign in" in answer.text


def test_a_callback_with_another_state_is_refused(browser: Browser) -> None:
    location = browser.choose(browser.sign_in_page(), USERS["admin"].email)
    query = parse_qs(urlsplit(location).query)
    answer = browser.get(f"/auth/callback?code={query['code'][0]}&state=forged")

    assert answer.status_code == 400
    assert "did not begin here" in answer.text
    assert "Welcome" not in browser.get("/").text


def test_signing_out_needs_the_form_token(browser: Browser) -> None:
    browser.sign_in("admin")

    refused = browser.post("/sign-out", {})

    assert refused.status_code == 400
    assert "reload the page" in refused.text
    assert "Welcome, Admin" in browser.get("/").text


def test_signing_out_forgets_the_session_and_signs_out_at_entra(
    browser: Browser,
) -> None:
    browser.sign_in("admin")
    forms = Forms()
    forms.feed(browser.get("/").text)
    token = forms.forms[0]["fields"]["csrf_token"]

    answer = browser.post("/sign-out", {"csrf_token": token})

    assert answer.status_code == 302
    assert "/oauth2/v2.0/logout?post_logout_redirect_uri=" in answer.headers["Location"]
    assert "Sign in with Microsoft" in browser.get("/").text


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
    assert _local_path(target) == kept


def test_pages_carry_a_strict_policy(browser: Browser) -> None:
    page = browser.get("/")

    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"


def test_a_missing_page_is_a_page_and_a_missing_api_route_is_json(
    browser: Browser,
) -> None:
    page = browser.get("/no-such-page")
    api = browser.get("/api/v1/no-such-route")

    assert page.status_code == api.status_code == 404
    assert page.mimetype == "text/html"
    assert api.json["error"]["code"] == "not_found"
