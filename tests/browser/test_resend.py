"""Resend in a browser: the envelope, the confirmation that lists the recipients,
and the history that follows the resend until it is sent, without a reload."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from interactions.limiter import LocalLimiter
from interactions.models import Resend, ResendStatus
from interactions.services.resend_processing import process_resend
from tests.browser.conftest import ARTIFACTS, Served, open_tab
from tests.conftest import Factory
from tests.test_resends import Outbox, email


def test_resends_after_confirming_and_follows_it_to_sent(
    admin: Page,
    served: Served,
    make: Factory,
) -> None:
    plan = make.plan(make.client())
    email(make, plan)
    open_tab(admin, served, "plan", plan.id)

    admin.get_by_role("link", name="Resend Census reminder").click()
    confirm = admin.get_by_role("dialog", name="Resend Interaction")
    expect(confirm).to_contain_text(
        "Resend this email to Dana Rivera <dana.rivera@northwind.test>, "
        "Payroll <payroll@northwind.test> (Cc)?"
    )
    expect(confirm).to_contain_text("Attachments are not included")
    admin.screenshot(path=str(ARTIFACTS / "admin-resend-confirm.png"))
    confirm.get_by_role("button", name="Yes").click()

    history = admin.get_by_role("region", name="Resend history")
    expect(history).to_contain_text("Waiting to send")
    expect(history).to_contain_text("dana.rivera@northwind.test")
    outbox = Outbox()
    with served.lock:
        resend = served.sessions().query(Resend).one()
        status = process_resend(
            served.sessions, resend.id, lambda s, u: outbox, LocalLimiter()
        )
    assert status is ResendStatus.SENT
    expect(history).to_contain_text("Sent", timeout=10_000)  # no reload
    assert len(outbox.sent_items) == 1
    admin.screenshot(path=str(ARTIFACTS / "admin-resend-history.png"), full_page=True)


def test_other_kinds_have_no_envelope(
    admin: Page,
    served: Served,
    make: Factory,
) -> None:
    plan = make.plan(make.client())
    make.interaction(plan, title="Called Dana", type_name="Phone Call")
    open_tab(admin, served, "plan", plan.id)

    expect(admin.get_by_role("table")).to_contain_text("Called Dana")
    expect(admin.get_by_role("link", name="Resend Called Dana")).to_have_count(0)
