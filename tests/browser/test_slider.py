"""The admin page's slider in a browser: editing with Linking's search-as-you-type,
the Participants tab, a dropped email file, read-only rows, sorting, list values and
capture health, each through the real sign-in."""

from __future__ import annotations

import base64

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.models import BaseName, Capture, CaptureStatus, Interaction
from tests.browser.conftest import ARTIFACTS, Served, Worker, open_tab, site
from tests.conftest import USERS, Factory, World
from tests.test_imports import eml


def test_edits_in_the_side_panel_and_links_by_typing(
    admin: Page, served: Served, make: Factory
) -> None:
    northwind = make.plan(make.client("Northwind Traders"), "Northwind 401(k) Plan")
    contoso = make.plan(make.client("Contoso Manufacturing"), "Contoso 401(k) Plan")
    make.plan(make.client("Contoso Retail"), "Contoso Retail 403(b)")
    make.interaction(northwind, title="Called Marcus")
    open_tab(admin, served, "plan", northwind.id)

    admin.get_by_role("link", name="Edit Called Marcus").click()
    slider = admin.get_by_role("dialog", name="Edit Interaction")
    expect(slider.get_by_role("list", name="Linked records")).to_contain_text(
        "Northwind 401(k) Plan"
    )
    slider.get_by_label("Link to Type").select_option("plan")
    slider.get_by_role("combobox", name="Name").press_sequentially("conto")
    options = slider.get_by_role("listbox", name="Records to link")
    expect(options.get_by_role("option")).to_have_count(2)
    admin.screenshot(path=str(ARTIFACTS / "admin-slider-linking.png"))
    # The keyboard: down to the first result, Enter links it.
    slider.get_by_role("combobox", name="Name").press("ArrowDown")
    admin.keyboard.press("Enter")
    expect(slider.get_by_role("list", name="Linked records")).to_contain_text(
        "Contoso 401(k) Plan"
    )
    slider.get_by_role(
        "button", name="Remove the link to Northwind 401(k) Plan"
    ).click()
    slider.get_by_role("button", name="Save").click()

    expect(admin.get_by_role("status").first).to_contain_text("Changes saved.")
    open_tab(admin, served, "plan", contoso.id)
    expect(admin.get_by_role("table")).to_contain_text("Called Marcus")
    open_tab(admin, served, "plan", northwind.id)
    expect(admin.get_by_role("table")).to_have_count(0)


def test_the_participants_tab_adds_and_removes_in_the_panel(
    admin: Page, served: Served, make: Factory
) -> None:
    plan = make.plan(make.client())
    make.contact("Rivera", "Dana", emails=("dana.rivera@northwind.test",))
    make.interaction(plan, title="Quarterly review")
    open_tab(admin, served, "plan", plan.id)

    admin.get_by_role("link", name="Edit Quarterly review").click()
    admin.get_by_role("dialog").get_by_role("link", name="Participants").click()
    slider = admin.get_by_role("dialog", name="Participants")
    slider.get_by_label("Email address").fill("dana.rivera@northwind.test")
    slider.get_by_role("button", name="Add", exact=True).click()

    expect(slider.get_by_text("Participant added.")).to_be_visible()
    expect(slider.get_by_text("Dana Rivera (contact)")).to_be_visible()
    admin.screenshot(path=str(ARTIFACTS / "admin-slider-participants.png"))
    slider.get_by_role("button", name="Remove Dana Rivera").click()
    expect(slider.get_by_text("Participant removed.")).to_be_visible()
    slider.get_by_role("link", name="Close").click()
    expect(slider).to_be_hidden()


def drop(page: Page, name: str, content: bytes) -> None:
    """Drop a file on the Interactions tab, as Outlook's drag does."""
    page.get_by_role("region", name="Interactions").evaluate(
        """(tab, [name, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name));
            for (const type of ["dragenter", "dragover", "drop"]) {
                tab.dispatchEvent(new DragEvent(type, {
                    bubbles: true, cancelable: true, dataTransfer: transfer,
                }));
            }
        }""",
        [name, base64.b64encode(content).decode()],
    )


def test_a_dropped_email_opens_the_slider_prefilled_and_is_stored(
    admin: Page, served: Served, make: Factory, worker: Worker
) -> None:
    plan = make.plan(make.client(), "Northwind 401(k) Plan")
    make.contact("Rivera", "Dana", emails=("dana.rivera@northwind.test",))
    make.contact("Chen", "Pat", emails=("payroll@northwind.test",))
    make.contact("Okafor", "Ada", emails=("payroll@northwind.test",))
    make.type("Email")
    open_tab(admin, served, "plan", plan.id)

    drop(admin, "loan.eml", eml())

    slider = admin.get_by_role("dialog", name="Add Interaction")
    expect(slider.get_by_role("textbox", name="Title", exact=True)).to_have_value(
        "Loan request for R. Chen"
    )
    expect(slider.get_by_role("combobox", name="Type", exact=True)).to_have_value(
        str(make.type("Email").id)
    )
    expect(slider.get_by_role("list", name="Linked records")).to_contain_text(
        "Northwind 401(k) Plan"
    )
    expect(slider.get_by_label("From: Dana Rivera")).to_contain_text("Dana Rivera")
    expect(slider.get_by_text("content is not kept")).to_be_visible()
    admin.screenshot(path=str(ARTIFACTS / "admin-drop-import.png"))
    slider.get_by_label("Cc: Payroll").select_option(label="Pat Chen")
    slider.get_by_role("button", name="Save").click()

    expect(admin.get_by_text("Waiting for a worker")).to_be_visible()
    assert worker.run() == [CaptureStatus.STORED]
    expect(
        admin.get_by_role("heading", name="Loan request for R. Chen")
    ).to_be_visible()
    expect(admin.get_by_text("File import")).to_be_visible()
    expect(admin.get_by_role("main")).to_contain_text("Cc: Payroll")


def test_a_dropped_file_that_cannot_be_read_says_why(
    admin: Page, served: Served, make: Factory
) -> None:
    plan = make.plan(make.client())
    open_tab(admin, served, "plan", plan.id)

    drop(admin, "scan.pdf", b"%PDF-1.7")

    expect(admin.get_by_role("alert")).to_contain_text(
        "“scan.pdf” is not an email file"
    )
    expect(admin.get_by_role("dialog")).to_be_hidden()


def test_a_dropped_message_already_logged_says_so(
    admin: Page, served: Served, make: Factory, db: Session
) -> None:
    plan = make.plan(make.client())
    make.type("Email")
    logged = make.interaction(plan, title="Loan request")
    logged.internet_message_id = "<loan-2026@northwind.test>"
    db.flush()
    open_tab(admin, served, "plan", plan.id)

    admin.get_by_label("Import an email file").set_input_files(
        files=[{"name": "loan.eml", "mimeType": "message/rfc822", "buffer": eml()}]
    )

    slider = admin.get_by_role("dialog", name="Add Interaction")
    expect(slider.get_by_text("This message is logged already")).to_be_visible()
    expect(slider.get_by_role("button", name="Save")).to_have_count(0)


def test_system_interactions_open_read_only_and_the_grid_sorts(
    admin: Page, served: Served, make: Factory
) -> None:
    plan = make.plan(make.client())
    blast = make.type("Blast Email")
    assert blast.base_name is BaseName.BLAST_EMAIL
    make.interaction(plan, title="Year-end notice", type_name="Blast Email", days_ago=3)
    make.interaction(plan, title="Annual review", days_ago=2)
    make.interaction(plan, title="Census request", days_ago=1)
    open_tab(admin, served, "plan", plan.id)

    edit = admin.get_by_role("button", name="Edit Year-end notice: not editable")
    expect(edit).to_be_disabled()
    titles = admin.get_by_role("table").locator("tbody tr td:nth-child(3) a")
    expect(titles).to_have_text(["Census request", "Annual review", "Year-end notice"])
    admin.get_by_role("button", name="Title").click()
    expect(titles).to_have_text(["Annual review", "Census request", "Year-end notice"])
    expect(admin.get_by_role("columnheader", name="Title")).to_have_attribute(
        "aria-sort", "ascending"
    )
    admin.get_by_role("link", name="Year-end notice", exact=True).click()
    expect(admin.get_by_text("cannot be edited")).to_be_visible()
    expect(admin.get_by_role("link", name="Edit")).to_have_count(0)


def test_maintains_the_interaction_types(
    admin: Page, served: Served, make: Factory
) -> None:
    admin.get_by_text("Maintenance").click()
    admin.get_by_role("link", name="Interaction", exact=True).click()
    admin.get_by_role("link", name="Add an interaction type").click()
    admin.get_by_role("combobox", name="Base name").select_option("Meeting")
    admin.get_by_role("textbox", name="Display name").fill("Plan committee meeting")
    admin.get_by_label("Participant roles").fill("Chair\nTrustee\nAdvisor")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("table")).to_contain_text("Plan committee meeting")
    admin.screenshot(path=str(ARTIFACTS / "admin-types.png"), full_page=True)

    admin.get_by_role("link", name="Plan committee meeting").click()
    admin.get_by_label("Active").uncheck()
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("table")).to_contain_text("No (kept on old interactions)")
    admin.goto(site(served) + "/interactions/new")
    type_picker = admin.get_by_role("combobox", name="Type", exact=True)
    expect(type_picker).not_to_contain_text("Plan committee meeting")


def test_capture_health_shows_a_failure_and_retries_it(
    admin: Page, served: Served, make: Factory, world: World, db: Session
) -> None:
    actor = world.actors["admin"]
    make._add(
        Capture(
            firm_id=actor.firm_id,
            user_id=actor.user_id,
            status=CaptureStatus.FAILED,
            reason="The message was deleted from the mailbox before it was read.",
            payload={"title": "Census file", "item": {"subject": "Census file"}},
        )
    )

    admin.get_by_text("Data").click()
    admin.get_by_role("link", name="Capture health").click()

    grid = admin.get_by_role("table")
    expect(grid).to_contain_text("Census file")
    expect(grid).to_contain_text("deleted from the mailbox")
    admin.screenshot(path=str(ARTIFACTS / "admin-capture-health.png"), full_page=True)
    admin.get_by_role("button", name="Retry Census file").click()
    expect(admin.get_by_role("status").first).to_contain_text("Sent to a worker again")
    expect(grid).to_contain_text("Queued")


def test_adds_from_the_data_menu_and_links_a_contact_by_typing(
    admin: Page, served: Served, make: Factory
) -> None:
    dana = make.contact("Rivera", "Dana", emails=("dana.rivera@northwind.test",))

    admin.get_by_text("Data").click()
    admin.get_by_role("link", name="Add an Interaction").click()
    slider = admin.get_by_role("dialog", name="Add Interaction")
    slider.get_by_role("combobox", name="Type", exact=True).select_option("Meeting")
    slider.get_by_role("textbox", name="Title", exact=True).fill("Annual plan review")
    slider.get_by_label("Link to Type").select_option("contact")
    slider.get_by_role("combobox", name="Name").press_sequentially("river")
    slider.get_by_role("option").get_by_role("button", name="Dana Rivera").click()
    slider.get_by_role("button", name="Save").click()

    expect(admin.get_by_role("status").first).to_contain_text("added")
    open_tab(admin, served, "contact", dana.id)
    expect(admin.get_by_role("table")).to_contain_text("Annual plan review")


def test_a_firm_below_the_team_tier_is_told_why(
    browser: Browser, served: Served
) -> None:
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(site(served) + "/sign-in")
    page.get_by_role("button", name=USERS["tracker"].email).click()

    expect(page.get_by_role("status")).to_contain_text(
        "part of the Team, Premium and Business tiers"
    )
    expect(page.get_by_role("navigation", name="Menus")).to_have_count(0)
    context.close()


def test_notes_take_bold_and_lists_and_keep_them(
    admin: Page, served: Served, make: Factory, db: Session
) -> None:
    plan = make.plan(make.client())
    open_tab(admin, served, "plan", plan.id)

    admin.get_by_role("link", name="Add", exact=True).click()
    slider = admin.get_by_role("dialog", name="Add Interaction")
    slider.get_by_role("combobox", name="Type", exact=True).select_option("Meeting")
    slider.get_by_role("textbox", name="Title", exact=True).fill("Plan review")
    notes = slider.get_by_role("textbox", name="Notes")
    notes.click()
    notes.press_sequentially("Match raised to 4%")
    admin.keyboard.press("Control+A")
    slider.get_by_role("button", name="Bold").click()
    slider.get_by_role("button", name="Save").click()

    expect(admin.get_by_role("status").first).to_contain_text("added")
    admin.get_by_role("link", name="Plan review", exact=True).click()
    frame = admin.frame_locator("iframe.email")
    expect(frame.locator("b, strong")).to_have_text("Match raised to 4%")
    stored = db.scalars(select(Interaction).where(Interaction.title == "Plan review"))
    assert stored.one().body_text == "Match raised to 4%"
