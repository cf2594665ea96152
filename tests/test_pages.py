"""The admin page's record pages and interaction page, signed in for real."""

from __future__ import annotations

from typing import Any

import pytest

from interactions.models import Participant
from tests.browsing import Browser
from tests.conftest import Factory


@pytest.fixture
def northwind(make: Factory) -> dict[str, Any]:
    client = make.client("Northwind Traders")
    plan = make.plan(client, "Northwind 401(k) Plan")
    dana = make.contact("Rivera", "Dana", ("dana@northwind.example",), plan=plan)
    recent = make.interaction(plan, dana, title="Census file received", days_ago=3)
    recent.participants.append(
        Participant(
            firm_id=recent.firm_id,
            role="From",
            contact_id=dana.id,
            address="dana@northwind.example",
            display_name="Dana Rivera",
        )
    )
    old = make.interaction(plan, title="Plan restatement signed", days_ago=400)
    make.session.flush()
    return {"client": client, "plan": plan, "dana": dana, "recent": recent, "old": old}


def test_a_plans_tab_shows_the_last_six_months_and_says_older_ones_are_hidden(
    visitor: Browser, northwind: dict[str, Any]
) -> None:
    visitor.sign_in("admin")

    page = visitor.get(f"/records/plan/{northwind['plan'].id}").text

    assert "Census file received" in page
    assert "Plan restatement signed" not in page
    assert '<option value="6m" selected>' in page
    assert "Older interactions are hidden by Show For Last" in page
    assert "From: Dana Rivera" in page


def test_show_for_last_all_shows_every_interaction(
    visitor: Browser, northwind: dict[str, Any]
) -> None:
    visitor.sign_in("admin")

    page = visitor.get(f"/records/plan/{northwind['plan'].id}?show_for_last=all").text

    assert "Census file received" in page
    assert "Plan restatement signed" in page
    assert "Older interactions are hidden" not in page


def test_a_clients_tab_rolls_up_its_plans_and_contacts_and_says_so(
    visitor: Browser, northwind: dict[str, Any]
) -> None:
    visitor.sign_in("admin")

    page = visitor.get(f"/records/client/{northwind['client'].id}").text

    # Linked to both the plan and Dana, shown once.
    assert page.count("Census file received") == 1
    assert "A client's tab shows the interactions of its plans and contacts" in page


def test_a_project_has_no_interactions_and_points_to_its_plan(
    visitor: Browser, make: Factory
) -> None:
    project = make.record("project")
    visitor.sign_in("admin")

    page = visitor.get(f"/records/project/{project.id}").text

    assert "Projects have no interactions" in page
    assert f"/records/plan/{project.plan_id}" in page


def test_an_interaction_shows_its_participants_links_and_attachments(
    visitor: Browser, northwind: dict[str, Any], make: Factory
) -> None:
    recent = northwind["recent"]
    recent.attachments = [{"name": "census.xlsx", "content_type": "", "size": 48213}]
    recent.body_text = "Please find the census attached."
    make.session.flush()
    visitor.sign_in("admin")

    page = visitor.get(f"/interactions/{recent.id}").text

    assert "Census file received" in page
    assert "From: Dana Rivera" in page
    assert "Northwind 401(k) Plan" in page
    assert "census.xlsx" in page
    assert "the content of attachments is not kept" in page
    assert "Please find the census attached." in page


def test_finding_a_record_by_name_links_to_its_page(
    visitor: Browser, northwind: dict[str, Any]
) -> None:
    visitor.sign_in("admin")

    page = visitor.get("/?q=northwind").text

    assert f"/records/client/{northwind['client'].id}" in page
    assert f"/records/plan/{northwind['plan'].id}" in page


@pytest.mark.parametrize("path", ["/records/plan/{plan}", "/interactions/{recent}"])
def test_another_firms_records_are_not_found(
    visitor: Browser, northwind: dict[str, Any], path: str
) -> None:
    visitor.sign_in("other")

    answer = visitor.get(
        path.format(plan=northwind["plan"].id, recent=northwind["recent"].id)
    )

    assert answer.status_code == 404
    assert "Northwind" not in answer.text


def test_a_record_page_asks_to_sign_in_first(
    visitor: Browser, northwind: dict[str, Any]
) -> None:
    answer = visitor.get(f"/records/plan/{northwind['plan'].id}")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sign-in?next=/records/plan/")


def test_signing_in_from_a_record_page_comes_back_to_it(
    visitor: Browser, northwind: dict[str, Any]
) -> None:
    path = f"/records/plan/{northwind['plan'].id}"
    started = visitor.get(path)

    answer = visitor.sign_in("admin", start=started.headers["Location"])

    assert answer.headers["Location"] == path


def test_an_emails_html_is_served_alone_with_a_policy_that_blocks_remote_images(
    visitor: Browser, northwind: dict[str, Any], make: Factory
) -> None:
    recent = northwind["recent"]
    recent.body_html = '<p>Hello</p><img src="https://tracker.example/p.png">'
    make.session.flush()
    visitor.sign_in("admin")

    page = visitor.get(f"/interactions/{recent.id}").text
    blocked = visitor.get(f"/interactions/{recent.id}/email")
    shown = visitor.get(f"/interactions/{recent.id}/email?images=shown")

    assert "<iframe" in page and "sandbox" in page
    assert "Show remote images" in page
    assert "img-src data: cid:;" in blocked.headers["Content-Security-Policy"]
    assert "script-src" not in blocked.headers["Content-Security-Policy"]
    assert "default-src 'none'" in blocked.headers["Content-Security-Policy"]
    assert "https:" in shown.headers["Content-Security-Policy"]


def test_an_email_lists_the_rest_of_its_conversation(
    visitor: Browser, northwind: dict[str, Any], make: Factory
) -> None:
    first = northwind["recent"]
    reply = make.interaction(northwind["plan"], title="RE: Census file received")
    first.conversation_id = reply.conversation_id = "AAQkConversation1"
    make.session.flush()
    visitor.sign_in("admin")

    page = visitor.get(f"/interactions/{first.id}").text

    assert "The conversation" in page
    assert f"/interactions/{reply.id}" in page
