"""Adding, editing and deleting interactions on the admin page."""

from __future__ import annotations

import html
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.models import AuditEvent, Interaction
from tests.browsing import Browser, Forms
from tests.conftest import Factory


def form_token(visitor: Browser, path: str) -> str:
    forms = Forms()
    forms.feed(visitor.get(path).text)
    return next(
        f["fields"]["csrf_token"] for f in forms.forms if "csrf_token" in f["fields"]
    )


@pytest.fixture
def plan(make: Factory) -> Any:
    return make.plan(make.client("Northwind Traders"), "Northwind 401(k) Plan")


def slider_fields(visitor: Browser, path: str) -> dict[str, str]:
    return slider_fields_of(visitor.get(path).text)


def slider_fields_of(page: str) -> dict[str, str]:
    """The hidden fields of the slider's form, as the page gave them."""
    forms = Forms()
    forms.feed(page)
    form = next(f for f in forms.forms if f.get("class") == "slider-form")
    return dict(form["fields"])


def add_form(visitor: Browser, plan: Any, **values: str) -> Any:
    tab = f"/records/plan/{plan.id}"
    path = f"/interactions/new?record=plan:{plan.id}&back={tab}"
    data = slider_fields(visitor, path) | {"occurred_at": "2026-11-30T14:05"} | values
    return visitor.post("/interactions/new", data)


def test_adding_from_a_plans_tab_links_it_and_comes_back(
    visitor: Browser, plan: Any, make: Factory, db: Session
) -> None:
    visitor.sign_in("admin")
    phone = make.type("Phone Call")

    answer = add_form(visitor, plan, type_id=str(phone.id), title="Called Dana")

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/records/plan/{plan.id}"
    tab = visitor.get(answer.headers["Location"]).text
    assert "Interaction “Called Dana” added." in tab
    assert "Called Dana" in tab
    stored = db.scalars(select(Interaction).where(Interaction.title == "Called Dana"))
    assert [link.record_id for link in stored.one().links] == [plan.id]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"title": "No type"}, "Type is required."),
        ({"type_id": "TYPE", "title": "  "}, "Title is required."),
        (
            {"type_id": "TYPE", "title": "Call", "duration_minutes": "ten"},
            "whole number",
        ),
        ({"type_id": "TYPE", "title": "Call", "occurred_at": "soon"}, "date and time"),
    ],
)
def test_a_refused_field_says_why_beside_it_and_keeps_what_was_typed(
    visitor: Browser, plan: Any, make: Factory, values: dict[str, str], says: str
) -> None:
    visitor.sign_in("admin")
    phone = make.type("Phone Call")
    values = {k: v.replace("TYPE", str(phone.id)) for k, v in values.items()}

    answer = add_form(visitor, plan, **values)

    assert answer.status_code == 422
    assert says in answer.text
    assert 'role="alert"' in answer.text
    if values.get("title", "").strip():
        assert f'value="{values["title"]}"' in answer.text


def test_adding_needs_the_add_edit_right(visitor: Browser, plan: Any) -> None:
    visitor.sign_in("reader")

    answer = visitor.get(f"/interactions/new?record=plan:{plan.id}")

    assert answer.status_code == 403
    assert "Add/Edit Interaction" in answer.text
    tab = visitor.get(f"/records/plan/{plan.id}").text
    assert "Add an Interaction" not in tab


def test_a_client_cannot_take_an_interaction(visitor: Browser, make: Factory) -> None:
    client = make.client()
    visitor.sign_in("admin")

    answer = visitor.get(f"/interactions/new?record=client:{client.id}")

    assert answer.status_code == 422
    assert "link them to the client's plans or contacts" in html.unescape(answer.text)


def test_editing_changes_the_title(visitor: Browser, plan: Any, make: Factory) -> None:
    interaction = make.interaction(plan, title="Quarterly review")
    visitor.sign_in("admin")
    path = f"/interactions/{interaction.id}/edit"
    page = visitor.get(path).text
    assert 'value="Quarterly review"' in page

    answer = visitor.post(
        path,
        {
            "csrf_token": form_token(visitor, path),
            "type_id": str(interaction.type_id),
            "title": "Quarterly review, Q4",
            "occurred_at": f"{interaction.occurred_at:%Y-%m-%dT%H:%M}",
        },
    )

    assert answer.status_code == 302
    assert "Quarterly review, Q4" in visitor.get(answer.headers["Location"]).text


def test_a_blast_email_opens_read_only_with_the_reason(
    visitor: Browser, plan: Any, make: Factory
) -> None:
    blast = make.interaction(plan, title="Year-end notice", type_name="Blast Email")
    visitor.sign_in("admin")

    shown = visitor.get(f"/interactions/{blast.id}").text
    edit = visitor.get(f"/interactions/{blast.id}/edit")

    assert "cannot be edited" in shown
    assert "/edit" not in shown
    assert edit.status_code == 409
    assert "cannot be edited" in edit.text


def test_delete_asks_first_and_deletes_only_on_yes(
    visitor: Browser, plan: Any, make: Factory, db: Session
) -> None:
    interaction_id = make.interaction(plan, title="Wrong call").id
    visitor.sign_in("admin")
    path = f"/interactions/{interaction_id}/delete"

    asked = visitor.get(f"{path}?back=/records/plan/{plan.id}").text
    assert "Are you sure?" in asked
    assert db.get(Interaction, interaction_id) is not None

    answer = visitor.post(
        path,
        {"csrf_token": form_token(visitor, path), "back": f"/records/plan/{plan.id}"},
    )

    assert answer.headers["Location"] == f"/records/plan/{plan.id}"
    db.expire_all()
    assert db.get(Interaction, interaction_id) is None
    assert db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "delete", AuditEvent.record_id == interaction_id
        )
    ).first()


def test_deleting_needs_the_delete_right(
    visitor: Browser, plan: Any, make: Factory
) -> None:
    interaction = make.interaction(plan)
    visitor.sign_in("editor")

    answer = visitor.get(f"/interactions/{interaction.id}/delete")

    assert answer.status_code == 403
    assert "Delete Interaction" in answer.text


def test_a_form_without_its_token_changes_nothing(
    visitor: Browser, plan: Any, make: Factory, db: Session
) -> None:
    interaction = make.interaction(plan)
    visitor.sign_in("admin")

    answer = visitor.post(f"/interactions/{interaction.id}/delete", {})

    assert answer.status_code == 400
    assert db.get(Interaction, interaction.id) is not None
