"""Users and rights in a browser: an administrator gives a user a right, and the
user's menu follows; a page of the area stays closed to them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, Served
from tests.conftest import USERS


@pytest.fixture
def signed_in(browser: Browser, served: Served) -> Iterator[dict[str, Page]]:
    """A page a person signed in on, each in their own browser, by handle."""
    contexts = []
    pages: dict[str, Page] = {}

    def sign_in(handle: str) -> Page:
        context = browser.new_context(ignore_https_errors=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        # localhost, not 127.0.0.1: browsers keep Secure cookies of http://localhost.
        page.goto(served.url.replace("127.0.0.1", "localhost") + "/sign-in")
        page.get_by_role("button", name=USERS[handle].email).click()
        expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
        return page

    pages["admin"] = sign_in("admin")
    pages["editor"] = sign_in("editor")
    yield pages
    for context in contexts:
        context.close()


def test_an_administrator_gives_a_user_a_right(signed_in: dict[str, Page]) -> None:
    admin, editor = signed_in["admin"], signed_in["editor"]
    expect(editor.get_by_text("Maintenance", exact=True)).to_have_count(0)

    admin.get_by_text("Maintenance", exact=True).click()
    admin.get_by_role("link", name="Security groups").click()
    admin.get_by_role("link", name="Add a security group").click()
    admin.get_by_label("Name").fill("Type keepers")
    rights = admin.get_by_role("group", name="Rights")
    rights.get_by_label("Maintain List Values").check()
    admin.screenshot(path=str(ARTIFACTS / "security-group-form.png"), full_page=True)
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status").first).to_contain_text("added")
    expect(admin.get_by_role("row", name="Type keepers")).to_contain_text(
        "Maintain List Values"
    )

    admin.get_by_role("link", name="Users", exact=True).click()
    admin.get_by_role("link", name="Editor", exact=True).click()
    admin.get_by_role("group", name="Security groups").get_by_label(
        "Type keepers"
    ).check()
    admin.screenshot(path=str(ARTIFACTS / "security-user-form.png"), full_page=True)
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("row", name="Editor")).to_contain_text("Type keepers")
    admin.screenshot(path=str(ARTIFACTS / "security-users.png"), full_page=True)

    editor.reload()
    editor.get_by_text("Maintenance", exact=True).click()
    editor.get_by_role("link", name="Interaction", exact=True).click()
    expect(editor.get_by_role("heading", name="Interaction types")).to_be_visible()
    expect(editor.get_by_text("Users and rights")).to_have_count(0)

    editor.goto(editor.url.split("/maintenance")[0] + "/maintenance/security/users")
    expect(editor.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(editor.get_by_role("main")).to_contain_text("Administer Users")
    editor.screenshot(path=str(ARTIFACTS / "security-forbidden.png"), full_page=True)


def test_the_group_form_reads_on_a_narrow_window(
    signed_in: dict[str, Page],
) -> None:
    admin = signed_in["admin"]
    admin.set_viewport_size({"width": 360, "height": 740})
    admin.goto(admin.url.rstrip("/") + "/maintenance/security/groups/new")

    admin.get_by_role("button", name="Save").press("Enter")

    expect(admin.get_by_role("alert")).to_have_text("Name is required.")
    width = admin.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    admin.screenshot(path=str(ARTIFACTS / "security-narrow.png"), full_page=True)
