"""Blast Email on the admin page, through the real sign-in: templates, a new blast
from finding a plan to "Send to N contacts?", the blast's page and its retries;
and the progress the page's script reads from the API."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.models import Blast, BlastTemplate, Resend, ResendStatus
from interactions.services import blasts
from interactions.services.blast_recipients import Audience, Selection
from interactions.services.blast_templates import TemplateFields, create_template
from tests.browsing import Browser
from tests.conftest import ApiClient, Factory, World
from tests.test_editing import form_token

TEMPLATES = "/maintenance/list-values/blast-email-templates"


@pytest.fixture
def plan(make: Factory) -> Any:
    plan = make.plan(make.client("Northwind Traders"), "Northwind 401(k) Plan")
    make.contact("Rivera", "Dana", emails=("dana@northwind.test",), plan=plan)
    make.contact("Chen", "Marcus", emails=("marcus@northwind.test",), plan=plan)
    make.contact("Okafor", "Lee", plan=plan)
    return plan


@pytest.fixture
def template(db: Session, world: World) -> BlastTemplate:
    return create_template(
        db,
        world.actors["admin"],
        TemplateFields(
            "Census reminder",
            "{{plan.name}}: census due",
            "Dear {{contact.first_name}},\nplease send the census.",
        ),
    )


def text_of(answer: Any) -> str:
    return html.unescape(answer.text)


# -- templates -------------------------------------------------------------------------


def test_adds_a_template_and_lists_it(visitor: Browser, db: Session) -> None:
    visitor.sign_in("admin")
    data = {
        "csrf_token": form_token(visitor, f"{TEMPLATES}/new"),
        "name": "Census reminder",
        "subject": "{{plan.name}}: census due",
        "body": "Dear {{ contact.first_name }},",
        "is_active": "on",
    }

    answer = visitor.post(f"{TEMPLATES}/new", data)

    assert answer.status_code == 302
    listed = text_of(visitor.get(TEMPLATES))
    assert "Blast Email template “Census reminder” added." in listed
    assert "{{plan.name}}: census due" in listed
    assert db.scalars(select(BlastTemplate.name)).all() == ["Census reminder"]


def test_an_unknown_merge_field_comes_back_beside_the_field(
    visitor: Browser,
) -> None:
    visitor.sign_in("admin")
    data = {
        "csrf_token": form_token(visitor, f"{TEMPLATES}/new"),
        "name": "Oops",
        "subject": "Hello",
        "body": "Dear {{contact.nickname}}",
    }

    answer = visitor.post(f"{TEMPLATES}/new", data)

    assert answer.status_code == 422
    page = text_of(answer)
    assert 'id="body-error" role="alert"' in page
    assert "{{contact.nickname}} is not a merge field" in page
    assert "Dear {{contact.nickname}}</textarea>" in page


def test_editing_a_template(
    visitor: Browser, template: BlastTemplate, db: Session
) -> None:
    visitor.sign_in("admin")
    path = f"{TEMPLATES}/{template.id}"
    assert 'value="Census reminder"' in visitor.get(path).text
    data = {
        "csrf_token": form_token(visitor, path),
        "name": "Census reminder",
        "subject": "Census due",
        "body": "Hello",
    }

    answer = visitor.post(path, data)

    assert answer.status_code == 302
    db.refresh(template)
    assert (template.subject, template.is_active) == ("Census due", False)


def test_templates_need_maintain_list_values(visitor: Browser) -> None:
    visitor.sign_in("editor")

    answer = visitor.get(TEMPLATES)

    assert answer.status_code == 403
    assert "Maintain List Values" in answer.text


def test_the_menus_lead_to_blast_email(visitor: Browser) -> None:
    visitor.sign_in("admin")

    home = visitor.get("/").text

    assert 'href="/blasts/new">Blast Email</a>' in home
    assert f'href="{TEMPLATES}">Blast Email templates</a>' in home


# -- a new blast -----------------------------------------------------------------------


def post_new(visitor: Browser, **values: Any) -> Any:
    data = {"csrf_token": form_token(visitor, "/blasts/new")} | values
    return visitor.client.post("/blasts/new", data=data, base_url="https://localhost")


def test_finds_a_plan_and_chooses_it(
    visitor: Browser, plan: Any, template: BlastTemplate
) -> None:
    visitor.sign_in("admin")

    found = post_new(visitor, audience="plan", q="northwind", find="1")
    assert f'name="choose" value="plan:{plan.id}"' in found.text
    chosen = post_new(visitor, audience="plan", choose=f"plan:{plan.id}")

    assert "The contacts of the plan <strong>Northwind 401(k) Plan</strong>" in (
        chosen.text
    )
    assert f'name="plan_id" value="{plan.id}"' in chosen.text


@pytest.mark.parametrize("kind", ["plan", "client"])
def test_a_plan_or_client_tab_starts_a_blast_to_its_contacts(
    visitor: Browser, plan: Any, kind: str
) -> None:
    visitor.sign_in("admin")
    record = f"{kind}:{plan.id if kind == 'plan' else plan.client_id}"
    tab = visitor.get(f"/records/{record.replace(':', '/')}").text
    assert f'href="/blasts/new?choose={record}">Blast Email to its contacts' in tab

    started = text_of(visitor.get(f"/blasts/new?choose={record}"))

    assert f"The contacts of the {kind} <strong>Northwind" in started


def test_chooses_contacts_by_hand_and_removes_one(
    visitor: Browser, plan: Any, make: Factory
) -> None:
    ann = make.contact("Bell", "Ann", emails=("ann@northwind.test",))
    bo = make.contact("Bell", "Bo", emails=("bo@northwind.test",))
    visitor.sign_in("admin")

    found = post_new(visitor, audience="hand", q="bell", find="1")
    assert f'value="contact:{ann.id}"' in found.text
    both = post_new(visitor, contact_id=[str(ann.id)], choose=f"contact:{bo.id}")
    assert "Ann Bell" in both.text and "Bo Bell" in both.text
    one = post_new(
        visitor, audience="hand", contact_id=[str(ann.id), str(bo.id)], remove=bo.id
    )

    assert "Ann Bell" in one.text
    assert "Bo Bell" not in one.text


def test_the_preview_shows_each_message_the_skipped_and_asks_first(
    visitor: Browser, plan: Any, template: BlastTemplate
) -> None:
    visitor.sign_in("admin")

    answer = post_new(
        visitor,
        template_id=str(template.id),
        audience="plan",
        plan_id=str(plan.id),
        preview="1",
    )

    assert answer.status_code == 200
    page = text_of(answer)
    assert "Send to 2 contacts?" in page
    assert "Northwind 401(k) Plan: census due" in page
    assert "Dear Marcus," in page
    assert "Lee Okafor: No email address." in page


def test_a_preview_without_a_template_says_so(visitor: Browser, plan: Any) -> None:
    visitor.sign_in("admin")

    answer = post_new(visitor, audience="plan", plan_id=str(plan.id), preview="1")

    assert answer.status_code == 422
    assert 'id="template_id-error" role="alert">Choose a template.' in answer.text


def test_yes_sends_once_and_opens_the_blast(
    visitor: Browser, plan: Any, template: BlastTemplate, db: Session
) -> None:
    visitor.sign_in("admin")
    values = {
        "template_id": str(template.id),
        "audience": "plan",
        "plan_id": str(plan.id),
        "request_key": "click-1",
        "send": "1",
    }

    answer = post_new(visitor, **values)
    again = post_new(visitor, **values)

    blast = db.scalars(select(Blast)).one()
    assert answer.headers["Location"] == again.headers["Location"]
    assert answer.headers["Location"] == f"/blasts/{blast.id}"
    page = text_of(visitor.get(answer.headers["Location"]))
    assert "Sending the Blast Email to 2 contacts." in page
    assert '<progress id="blast-bar" max="2" value="0"' in page
    assert "/static/blast.js" in page


def test_no_goes_back_to_the_choice_as_it_was(
    visitor: Browser, plan: Any, template: BlastTemplate, db: Session
) -> None:
    visitor.sign_in("admin")

    answer = post_new(
        visitor,
        template_id=str(template.id),
        audience="plan",
        plan_id=str(plan.id),
        back="1",
    )

    assert answer.status_code == 200
    assert f'<option value="{template.id}" selected>' in answer.text
    assert "The contacts of the plan <strong>Northwind 401(k) Plan</strong>" in (
        answer.text
    )
    assert db.scalars(select(Blast)).all() == []


def test_a_blast_email_interaction_cannot_be_edited(
    visitor: Browser, sent: Blast
) -> None:
    visitor.sign_in("admin")
    interaction_id = sent.recipients[0].interaction_id

    answer = visitor.get(f"/interactions/{interaction_id}/edit")

    assert answer.status_code == 409
    assert "cannot be edited" in answer.text


def test_sending_needs_add_edit_interaction(visitor: Browser) -> None:
    visitor.sign_in("reader")

    assert visitor.get("/blasts/new").status_code == 403


# -- a blast's page --------------------------------------------------------------------


@pytest.fixture
def sent(db: Session, world: World, plan: Any, template: BlastTemplate) -> Blast:
    blast = blasts.send_blast(
        db,
        world.actors["admin"],
        template.id,
        Selection(Audience.PLAN, plan_id=plan.id),
    )
    first, second = blast.recipients
    db.get_one(Resend, first.resend_id).status = ResendStatus.SENT
    failed = db.get_one(Resend, second.resend_id)
    failed.status = ResendStatus.FAILED
    failed.reason = "The mailbox refused the message."
    db.flush()
    return blast


def test_a_finished_blast_sums_up_and_offers_retry_for_the_failed(
    visitor: Browser, sent: Blast
) -> None:
    visitor.sign_in("admin")

    page = text_of(visitor.get(f"/blasts/{sent.id}"))

    assert '<progress id="blast-bar" max="2" value="2"' in page
    assert "1 sent, 1 failed." in page
    assert "The mailbox refused the message." in page
    retries = re.findall(r"<form [^>]*data-retry( hidden)?>", page)
    assert retries == [" hidden", ""]


def test_retry_sends_a_failed_recipient_again(
    visitor: Browser, sent: Blast, db: Session
) -> None:
    visitor.sign_in("admin")
    failed = sent.recipients[1]
    path = f"/blasts/{sent.id}/recipients/{failed.id}/retry"

    answer = visitor.post(
        path, {"csrf_token": form_token(visitor, f"/blasts/{sent.id}")}
    )

    assert answer.status_code == 302
    page = text_of(visitor.get(answer.headers["Location"]))
    assert "Sending it again" in page
    db.refresh(failed)
    assert db.get_one(Resend, failed.resend_id).status is ResendStatus.REQUESTED


def test_another_firms_blast_is_not_found(visitor: Browser, sent: Blast) -> None:
    visitor.sign_in("other")

    assert visitor.get(f"/blasts/{sent.id}").status_code == 404


# -- the progress the page follows -----------------------------------------------------


def test_the_api_gives_a_blasts_progress(api: ApiClient, sent: Blast) -> None:
    answer = api.get(f"/api/v1/blasts/{sent.id}")

    assert answer.status_code == 200
    body = answer.json
    assert (body["total"], body["sent"], body["failed"], body["waiting"]) == (
        2,
        1,
        1,
        0,
    )
    assert body["is_finished"] is True
    assert [(r["status"], r["can_retry"]) for r in body["recipients"]] == [
        ("sent", False),
        ("failed", True),
    ]


def test_the_api_hides_another_firms_blast(api: ApiClient, sent: Blast) -> None:
    assert api.get(f"/api/v1/blasts/{sent.id}", as_="other").status_code == 404


def test_the_page_reads_progress_with_its_session(
    visitor: Browser, sent: Blast
) -> None:
    visitor.sign_in("admin")
    token = form_token(visitor, f"/blasts/{sent.id}")

    answer = visitor.client.get(
        f"/api/v1/blasts/{sent.id}",
        base_url="https://localhost",
        headers={"X-CSRF-Token": token},
    )

    assert answer.status_code == 200
    assert answer.json["sent"] == 1
