"""The admin page in a browser: signing in through the simulator, and out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, Served
from tests.conftest import USERS


@pytest.fixture
def admin_page(browser: Browser) -> Iterator[Page]:
    # The simulator's certificate comes from the test's own CA.
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def site(served: Served) -> str:
    # localhost, not 127.0.0.1: browsers keep Secure cookies of http://localhost.
    return served.url.replace("127.0.0.1", "localhost")


def test_signs_in_through_entra_and_out_again(admin_page: Page, served: Served) -> None:
    page = admin_page
    page.goto(site(served) + "/")
    page.get_by_role("link", name="Sign in with Microsoft").click()

    page.get_by_role("button", name=USERS["admin"].email).click()

    expect(page.get_by_role("heading", name="Welcome, Admin")).to_be_visible()
    expect(page.get_by_role("list")).to_contain_text("Delete Interaction")
    page.screenshot(path=str(ARTIFACTS / "admin-home.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out")).to_be_visible()
