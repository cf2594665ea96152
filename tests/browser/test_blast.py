"""Blast Email in a browser: a template, a plan's contacts, the preview, the send,
and the progress bar following the messages as the worker finishes them; the
summary with the failed one, retried."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select

from interactions.models import Blast, Resend, ResendStatus
from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, Served
from tests.browser.test_admin import site
from tests.conftest import USERS, Factory


@pytest.fixture
def sender(browser: Browser, served: Served) -> Iterator[Page]:
    """A signed-in administrator's page; a script error or a refused script fails
    the test."""
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", watch)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(site(served) + "/sign-in")
    page.get_by_role("button", name=USERS["admin"].email).click()
    expect(page.get_by_role("heading", name="Welcome, Admin")).to_be_visible()
    yield page
    context.close()
    assert not problems, problems


def finish(
    served: Served, address: str, status: ResendStatus, reason: str = ""
) -> None:
    """What the worker does in the end to the latest resend to ``address``."""
    with served.lock, served.sessions() as session:
        blast = session.scalars(select(Blast).order_by(Blast.id.desc())).first()
        assert blast is not None
        recipient = next(r for r in blast.recipients if r.address == address)
        resend = session.get_one(Resend, recipient.resend_id)
        resend.status = status
        resend.reason = reason
        session.commit()


def test_sends_a_blast_and_follows_it_to_the_end_with_a_retry(
    sender: Page, served: Served, make: Factory
) -> None:
    plan = make.plan(make.client("Northwind Traders"), "Northwind 401(k) Plan")
    make.contact("Rivera", "Dana", emails=("dana@northwind.test",), plan=plan)
    make.contact("Chen", "Marcus", emails=("marcus@northwind.test",), plan=plan)
    make.contact("Okafor", "Lee", plan=plan)

    # A template, from Maintenance > List Values.
    sender.get_by_text("Maintenance", exact=True).click()
    sender.get_by_role("link", name="Blast Email templates").click()
    sender.get_by_role("link", name="Add a template").click()
    sender.get_by_label("Name").fill("Census reminder")
    sender.get_by_label("Subject").fill("{{plan.name}}: census due")
    sender.get_by_label("Body", exact=False).first.fill(
        "Dear {{contact.first_name}},\n\nPlease send the census."
    )
    sender.get_by_role("button", name="Save").click()
    expect(sender.get_by_role("status").first).to_contain_text("added.")

    # The plan's contacts, found by typing its name and pressing Enter.
    sender.get_by_text("Data", exact=True).click()
    sender.get_by_role("link", name="Blast Email", exact=True).click()
    sender.get_by_label("Template").select_option(label="Census reminder")
    sender.get_by_label("The contacts of a plan").check()
    search = sender.get_by_label("Find a plan, client or contact by name")
    search.fill("northwind 401")
    search.press("Enter")
    sender.get_by_role("list", name="Records found").get_by_role(
        "button", name="Northwind 401(k) Plan"
    ).click()
    expect(sender.get_by_text("The contacts of the plan")).to_contain_text(
        "Northwind 401(k) Plan"
    )

    sender.get_by_role("button", name="Preview").click()
    expect(
        sender.get_by_role("heading", name="Preview: Census reminder")
    ).to_be_visible()
    expect(sender.get_by_text("Lee Okafor: No email address.")).to_be_visible()
    expect(sender.get_by_role("alert")).to_contain_text("Send to 2 contacts?")
    sender.screenshot(path=str(ARTIFACTS / "blast-preview.png"), full_page=True)
    yes = sender.get_by_role("button", name="Yes, send")
    # Below the two previews: scrolled to first, as a person would.
    yes.scroll_into_view_if_needed()
    yes.click()

    bar = sender.locator("progress#blast-bar")
    expect(bar).to_have_js_property("value", 0)
    expect(bar).to_have_attribute("max", "2")
    expect(sender.locator("[data-waiting]")).to_have_text("2")
    sender.screenshot(path=str(ARTIFACTS / "blast-sending.png"), full_page=True)

    # The worker sends one; the bar moves without a reload.
    finish(served, "dana@northwind.test", ResendStatus.SENT)
    expect(bar).to_have_js_property("value", 1)
    expect(sender.get_by_role("row", name="Dana Rivera")).to_contain_text("Sent")
    expect(sender.get_by_role("button", name="Retry Marcus Chen")).to_be_hidden()

    # The other fails: the bar reaches the end, the summary says so.
    finish(served, "marcus@northwind.test", ResendStatus.FAILED, "Mailbox is full.")
    expect(bar).to_have_js_property("value", 2)
    summary = sender.locator("[data-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("1 sent, 1 failed.")
    expect(sender.get_by_role("row", name="Marcus Chen")).to_contain_text(
        "Mailbox is full."
    )
    sender.screenshot(path=str(ARTIFACTS / "blast-finished.png"), full_page=True)

    # Retried, it is on its way again, and then sent.
    sender.get_by_role("button", name="Retry Marcus Chen").focus()
    sender.keyboard.press("Enter")
    expect(sender.get_by_text("Sending it again")).to_be_visible()
    expect(bar).to_have_js_property("value", 1)
    expect(summary).to_be_hidden()
    finish(served, "marcus@northwind.test", ResendStatus.SENT)
    expect(bar).to_have_js_property("value", 2)
    expect(summary).to_contain_text("2 sent, 0 failed.")


def test_finds_contacts_as_their_name_is_typed_on_a_narrow_screen(
    sender: Page, served: Served, make: Factory
) -> None:
    make.contact("Rivera", "Dana", emails=("dana@northwind.test",))
    make.contact("Rivers", "Sam", emails=("sam@contoso.test",))
    sender.set_viewport_size({"width": 380, "height": 800})
    sender.goto(site(served) + "/blasts/new")

    sender.get_by_label("Contacts I choose").check()
    sender.get_by_label("Find a plan, client or contact by name").press_sequentially(
        "rive"
    )
    results = sender.get_by_role("list", name="Records found")
    expect(results.get_by_role("button")).to_have_count(2)
    sender.screenshot(path=str(ARTIFACTS / "blast-new-narrow.png"), full_page=True)
    results.get_by_role("button", name="Dana Rivera").click()

    chosen = sender.get_by_role("list", name="Chosen contacts")
    expect(chosen).to_contain_text("dana@northwind.test")
    sender.get_by_role("button", name="Remove Dana Rivera").click()
    expect(chosen).to_have_count(0)
