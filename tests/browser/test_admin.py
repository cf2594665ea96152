"""The admin page in a browser: signing in through the simulator, and out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS, Served, site
from tests.conftest import USERS, Factory


@pytest.fixture
def admin_page(browser: Browser) -> Iterator[Page]:
    # The simulator's certificate comes from the test's own CA.
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


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


def test_finds_a_plan_and_reads_its_interactions_tab(
    admin_page: Page, served: Served, make: Factory
) -> None:
    plan = make.plan(make.client("Contoso Manufacturing"), "Contoso 401(k) Plan")
    make.interaction(plan, title="ADP/ACP testing results", days_ago=10)
    make.interaction(plan, title="2024 Form 5500 filed", days_ago=300)
    page = admin_page
    page.goto(site(served) + "/sign-in")
    page.get_by_role("button", name=USERS["admin"].email).click()

    page.get_by_role("searchbox").fill("contoso")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Contoso 401(k) Plan").click()

    grid = page.get_by_role("table")
    expect(grid).to_contain_text("ADP/ACP testing results")
    expect(grid).not_to_contain_text("2024 Form 5500 filed")
    expect(page.get_by_text("Older interactions are hidden")).to_be_visible()
    page.get_by_label("Show For Last").select_option("All")
    page.get_by_role("button", name="Show").click()
    expect(grid).to_contain_text("2024 Form 5500 filed")
    page.screenshot(path=str(ARTIFACTS / "admin-plan-grid.png"), full_page=True)


def test_adds_from_a_tab_then_deletes_after_confirming(
    admin_page: Page, served: Served, make: Factory
) -> None:
    plan = make.plan(make.client("Fabrikam Dental"), "Fabrikam 401(k) Plan")
    page = admin_page
    page.goto(site(served) + f"/sign-in?next=/records/plan/{plan.id}")
    page.get_by_role("button", name=USERS["admin"].email).click()

    page.get_by_role("link", name="Add", exact=True).click()
    slider = page.get_by_role("dialog", name="Add Interaction")
    expect(slider).to_be_visible()
    expect(slider.get_by_text("Fabrikam 401(k) Plan")).to_be_visible()  # linked
    slider.get_by_role("button", name="Save").click()
    expect(slider.get_by_text("Type is required.")).to_be_visible()
    expect(slider.get_by_role("combobox", name="Type", exact=True)).to_be_focused()
    page.screenshot(path=str(ARTIFACTS / "admin-add-slider.png"))
    slider.get_by_role("combobox", name="Type", exact=True).select_option("Phone Call")
    slider.get_by_role("textbox", name="Title", exact=True).fill(
        "Called about the amendment"
    )
    slider.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status").first).to_contain_text("added")
    expect(page.get_by_role("table")).to_contain_text("Called about the amendment")
    page.get_by_role("link", name="Delete Called about the amendment").click()
    confirm = page.get_by_role("dialog", name="Delete Interaction")
    expect(confirm.get_by_text("Are you sure?")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "admin-delete-confirm.png"))
    confirm.get_by_role("link", name="No").click()
    expect(confirm).to_be_hidden()
    page.get_by_role("link", name="Delete Called about the amendment").click()
    confirm.get_by_role("button", name="Yes").click()
    expect(page.get_by_role("status").first).to_contain_text("deleted")
    expect(page.get_by_role("table")).to_have_count(0)
