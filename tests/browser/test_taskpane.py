"""The task pane in a browser: prefill, linking, saving, and every result it shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Page, Route, expect
from sqlalchemy.orm import Session

from addin import OFFICE_JS_CDN
from interactions.limiter import LocalLimiter
from interactions.microsoft.graph import MailGateway
from interactions.models import (
    Capture,
    CaptureStatus,
    Interaction,
    Participant,
    Resend,
    ResendStatus,
)
from interactions.services.resend_processing import process_resend
from simulator.entra import Grant
from tests.browser.conftest import Served, Worker, sandbox_url
from tests.conftest import USERS, Factory, RunningSimulator
from web import create_app
from web.context import Runtime

ADP_ACP = "Contoso Manufacturing: ADP/ACP testing results"
FEE_DISCLOSURE = "Question about the 408(b)(2) fee disclosure"
SAFE_HARBOR = "Safe harbor notice due date"


@pytest.fixture
def crm(make: Factory) -> dict[str, Any]:
    """The firm's records the demo mail talks about."""
    contoso = make.client("Contoso Manufacturing")
    plan = make.plan(contoso, "Contoso 401(k) Plan")
    make.plan(make.client("Northwind Traders"), "Northwind 401(k) Plan")
    marcus = make.contact("Chen", "Marcus", ("marcus.chen@contoso-mfg.example",))
    # Two contacts share Helen's address: the pane must show both.
    helen = make.contact("Park", "Helen", ("helen.park@contoso-mfg.example",))
    make.contact("Park-Lee", "Helen", ("helen.park@contoso-mfg.example",))
    return {"plan": plan, "marcus": marcus, "helen": helen}


def open_pane(page: Page, served: Served, subject: str) -> FrameLocator:
    page.goto(sandbox_url(served))
    select_message(page, subject)
    pane = page.frame_locator("#pane")
    expect(pane.get_by_label("Title")).to_have_value(subject)
    return pane


def select_message(page: Page, subject: str) -> None:
    """Click the message whose subject is exactly this one (not a reply to it)."""
    exact = page.locator(".subject").get_by_text(subject, exact=True)
    page.locator("#messages button").filter(has=exact).click()


def test_prefills_links_saves_and_shows_the_stored_result(
    page: Page,
    served: Served,
    worker: Worker,
    crm: dict[str, Any],
    db: Session,
    screenshot: Callable[[str], None],
) -> None:
    pane = open_pane(page, served, ADP_ACP)

    type_ = pane.get_by_role("combobox", name="Type", exact=True)
    expect(type_.locator("option:checked")).to_have_text("Email")
    participants = pane.get_by_role("group", name="Participants")
    expect(participants).to_contain_text("Contact: Marcus Chen")
    expect(pane.get_by_label("Role of marcus.chen@contoso-mfg.example")).to_have_value(
        "From"
    )
    expect(pane.get_by_label("Role of helen.park@contoso-mfg.example")).to_have_value(
        "Cc"
    )
    helen = pane.get_by_role("group", name="2 contacts share this address")
    expect(helen.get_by_role("radio")).to_have_count(3)
    helen.get_by_role("radio", name="Helen Park", exact=True).check()

    pane.get_by_label("Link to Type").select_option("Plan")
    search = pane.get_by_role("combobox", name="Search Plan")
    expect(search).to_be_focused()
    search.press_sequentially("contoso")
    expect(pane.get_by_role("option", name="Contoso 401(k) Plan")).to_be_visible()
    search.press("Enter")
    links = pane.get_by_role("list", name="Links")
    expect(links).to_contain_text("Contoso 401(k) Plan")
    screenshot("filled")

    with page.expect_response("**/api/v1/captures") as posted:
        pane.get_by_role("button", name="Save").click()
    assert posted.value.status == 202
    expect(pane.locator("#progress-detail")).to_have_text("Waiting for a worker…")

    assert worker.run() == [CaptureStatus.STORED]
    expect(pane.get_by_role("heading", name="Logged")).to_be_focused()
    interaction_id = posted_capture(db, posted.value.json()["id"]).interaction_id
    expect(
        pane.get_by_role("link", name=f"Open interaction {interaction_id}")
    ).to_be_visible()
    screenshot("stored")

    interaction = db.get_one(Interaction, interaction_id)
    assert interaction.title == ADP_ACP
    assert [(link.record_type.value, link.record_id) for link in interaction.links] == [
        ("plan", crm["plan"].id)
    ]
    by_role = {(p.role, p.address): p.contact_id for p in interaction.participants}
    assert by_role[("From", "marcus.chen@contoso-mfg.example")] == crm["marcus"].id
    assert by_role[("Cc", "helen.park@contoso-mfg.example")] == crm["helen"].id
    assert "ADP/ACP results" in interaction.body_html


def posted_capture(db: Session, capture_id: int) -> Capture:
    db.expire_all()
    return db.get_one(Capture, capture_id)


def test_shows_a_message_already_logged_and_follows_the_selection(
    page: Page,
    served: Served,
    db: Session,
    make: Factory,
    screenshot: Callable[[str], None],
) -> None:
    pane = open_pane(page, served, SAFE_HARBOR)
    select_message(page, FEE_DISCLOSURE)
    expect(pane.get_by_label("Title")).to_have_value(FEE_DISCLOSURE)
    message_id = page.evaluate("window.sandboxHost.message.internetMessageId")
    with served.lock:
        logged = make.interaction(title="Fee disclosure question")
        logged.internet_message_id = message_id
        db.flush()

    select_message(page, SAFE_HARBOR)
    expect(pane.get_by_label("Title")).to_have_value(SAFE_HARBOR)
    select_message(page, FEE_DISCLOSURE)

    expect(pane.get_by_role("heading", name="Already logged")).to_be_visible()
    expect(
        pane.get_by_role("link", name=f"Open interaction {logged.id}")
    ).to_have_attribute("href", f"/interactions/{logged.id}")
    expect(pane.get_by_role("button", name="Save")).to_be_hidden()
    screenshot("logged")


def test_a_failed_capture_shows_its_reason_and_can_be_retried(
    page: Page,
    served: Served,
    worker: Worker,
    crm: dict[str, Any],
    screenshot: Callable[[str], None],
) -> None:
    def without_bodies(route: Route) -> None:
        answer = route.fetch()
        messages = answer.json()["messages"]
        for message in messages:
            message["body"] = None
        route.fulfill(response=answer, json={"messages": messages})

    # Outlook cannot always give the pane the body; the worker must read it.
    page.route("**/addin/sandbox/messages*", without_bodies)
    pane = open_pane(page, served, ADP_ACP)

    with page.expect_response("**/api/v1/captures") as posted:
        pane.get_by_role("button", name="Save").click()
    assert posted.value.status == 202
    assert worker.run() == [CaptureStatus.FAILED]

    expect(pane.get_by_role("heading", name="Not logged")).to_be_focused()
    expect(pane.locator("#progress-detail")).to_contain_text(
        "The message is no longer in your mailbox"
    )
    screenshot("failed")

    rest_id = worker.mailbox.reads[0]
    worker.mailbox.messages[rest_id] = graph_message(ADP_ACP)
    with page.expect_response("**/api/v1/captures") as posted_again:
        pane.get_by_role("button", name="Retry").click()
    assert posted_again.value.status == 202
    assert worker.run() == [CaptureStatus.STORED]
    expect(pane.get_by_role("heading", name="Logged")).to_be_visible()


def test_a_busy_api_is_waited_out_and_the_capture_sent_once_more(
    page: Page, served: Served, worker: Worker, crm: dict[str, Any]
) -> None:
    """A 429 shows "busy, retrying in N s", and the pane sends again after N s."""
    answers: list[int] = []

    def busy_once(route: Route) -> None:
        if answers:
            answers.append(202)
            route.fallback()
            return
        answers.append(429)
        message = "You are sending captures too fast; try again in 1 second."
        route.fulfill(
            status=429,
            headers={"Retry-After": "1"},
            json={"error": {"code": "too_many_requests", "message": message}},
        )

    page.route("**/api/v1/captures", busy_once)
    pane = open_pane(page, served, ADP_ACP)

    pane.get_by_role("button", name="Save").click()

    expect(pane.locator("#progress-detail")).to_have_text("Busy, retrying in 1 s.")
    expect(pane.locator("#progress-detail")).to_have_text("Waiting for a worker…")
    assert answers == [429, 202]
    assert worker.run() == [CaptureStatus.STORED]
    expect(pane.get_by_role("heading", name="Logged")).to_be_visible()


def graph_message(subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "from": {"emailAddress": {"address": "marcus.chen@contoso-mfg.example"}},
        "toRecipients": [],
        "ccRecipients": [],
        "body": {"contentType": "html", "content": "<p>From the mailbox.</p>"},
        "hasAttachments": False,
    }


def expired_token(simulator: RunningSimulator, handle: str = "admin") -> str:
    entra = simulator.entra
    grant = Grant(USERS[handle], entra.client_id, ("access_as_user",))
    an_hour_ago = int(time.time()) - 3600
    return entra.access_token(
        grant, iat=an_hour_ago - 3600, nbf=an_hour_ago - 3600, exp=an_hour_ago
    )


def test_an_expired_token_is_replaced_without_the_user_noticing(
    page: Page, served: Served, running_simulator: RunningSimulator
) -> None:
    handed: list[str] = []

    def expired_first(route: Route) -> None:
        handed.append(route.request.url)
        if len(handed) == 1:
            route.fulfill(json={"access_token": expired_token(running_simulator)})
        else:
            route.continue_()

    page.route("**/addin/sandbox/token", expired_first)
    open_pane(page, served, SAFE_HARBOR)

    assert len(handed) == 2


def test_a_token_that_stays_expired_asks_to_sign_in_again(
    page: Page,
    served: Served,
    running_simulator: RunningSimulator,
    screenshot: Callable[[str], None],
) -> None:
    token = expired_token(running_simulator)
    page.route(
        "**/addin/sandbox/token",
        lambda route: route.fulfill(json={"access_token": token}),
    )
    page.goto(sandbox_url(served))
    pane = page.frame_locator("#pane")

    expect(pane.get_by_role("status").first).to_have_text(
        "Your sign-in has expired. Sign in again to continue."
    )
    sign_in_again = pane.get_by_role("button", name="Sign in again")
    expect(sign_in_again).to_be_focused()
    screenshot("expired")

    page.unroute("**/addin/sandbox/token")
    sign_in_again.click()
    expect(pane.get_by_label("Title")).not_to_have_value("")


def test_the_pane_fits_320_pixels_and_is_served_with_a_strict_policy(
    page: Page, served: Served, crm: dict[str, Any]
) -> None:
    pane = open_pane(page, served, ADP_ACP)
    frame = page.frame(url=lambda url: "taskpane.html" in url)
    assert frame is not None

    widths = frame.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] <= 320
    expect(pane.get_by_role("button", name="Save")).to_be_visible()

    response = page.request.get(f"{served.url}/addin/taskpane.html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_the_form_is_usable_with_the_keyboard_alone(
    page: Page, served: Served, crm: dict[str, Any]
) -> None:
    pane = open_pane(page, served, SAFE_HARBOR)
    title = pane.get_by_label("Title")
    title.fill("")
    pane.get_by_role("combobox", name="Type", exact=True).focus()

    page.keyboard.press("Tab")
    expect(title).to_be_focused()
    page.keyboard.press("Enter")

    expect(pane.get_by_text("Title is required.")).to_be_visible()
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_be_focused()


def test_serves_the_pane_its_help_and_icons(served: Served) -> None:
    client = served.app.test_client()
    for path in (
        "/addin/taskpane.html",
        "/addin/support",
        "/addin/static/icons/icon-80.png",
        "/addin/vendor/msal-browser/msal-browser.min.js",
    ):
        with client.get(path) as response:
            assert response.status_code == 200, path
    assert client.get("/addin/vendor/left-pad/index.js").status_code == 404


def test_with_a_real_entra_id_office_js_comes_from_the_cdn_and_no_sandbox(
    served: Served,
) -> None:
    runtime = served.app.extensions["interactions"]
    settings = replace(
        runtime.settings, authority_host="https://login.microsoftonline.com"
    )
    client = create_app(
        Runtime(settings, runtime.engine, runtime.sessions, runtime.validator)
    ).test_client()

    page = client.get("/addin/taskpane.html?host=sandbox")
    assert OFFICE_JS_CDN in page.text
    assert "sandbox/host.js" not in page.text
    assert (
        "https://appsforoffice.microsoft.com" in page.headers["Content-Security-Policy"]
    )
    assert client.get("/addin/sandbox").status_code == 404
    assert client.post("/addin/sandbox/token", json={}).status_code == 404


def test_resends_a_logged_email_from_the_pane_and_follows_it_to_sent_items(
    page: Page,
    served: Served,
    db: Session,
    make: Factory,
    screenshot: Callable[[str], None],
) -> None:
    pane = open_pane(page, served, FEE_DISCLOSURE)
    message_id = page.evaluate("window.sandboxHost.message.internetMessageId")
    with served.lock:
        logged = make.interaction(title=FEE_DISCLOSURE)
        logged.internet_message_id = message_id
        logged.body_html = "<p>About the fee disclosure.</p>"
        logged.participants.append(
            Participant(
                firm_id=logged.firm_id,
                role="To",
                address="dana.rivera@northwind.example",
                display_name="Dana Rivera",
            )
        )
        db.flush()
    select_message(page, SAFE_HARBOR)
    select_message(page, FEE_DISCLOSURE)

    expect(pane.get_by_role("heading", name="Already logged")).to_be_visible()
    pane.get_by_role("button", name="Resend").click()
    expect(pane.get_by_role("alertdialog")).to_contain_text(
        "Resend this email to Dana Rivera <dana.rivera@northwind.example>?"
    )
    pane.get_by_role("button", name="Yes, resend").click()
    expect(pane.get_by_role("list").filter(has_text="Waiting to send")).to_be_visible()

    settings = served.app.extensions["interactions"].settings
    with served.lock:
        (resend,) = db.query(Resend).all()
        status = process_resend(
            served.sessions,
            resend.id,
            lambda session, user_id: MailGateway.for_user(session, settings, user_id),
            LocalLimiter(),
        )
    assert status is ResendStatus.SENT
    expect(pane.get_by_text("Sent", exact=True)).to_be_visible(timeout=10_000)
    screenshot("resent")
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("list", name="Sent Items")).to_contain_text(FEE_DISCLOSURE)
    expect(
        page.get_by_role("list", name="Sent Items").get_by_text(
            FEE_DISCLOSURE, exact=True
        )
    ).to_have_count(1)
