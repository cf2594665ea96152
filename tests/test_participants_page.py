"""The Participants tab of an interaction on the admin page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from interactions.models import Interaction
from tests.browsing import Browser, Forms
from tests.conftest import Factory, World


@pytest.fixture
def email(make: Factory) -> Interaction:
    plan = make.plan(make.client("Contoso Manufacturing"), "Contoso 401(k) Plan")
    return make.interaction(plan, title="ADP/ACP results")


def add(visitor: Browser, interaction: Interaction, **values: str) -> Any:
    path = f"/interactions/{interaction.id}/participants"
    forms = Forms()
    forms.feed(visitor.get(path).text)
    adding = next(f for f in forms.forms if f.get("action") == path)
    return visitor.post(path, adding["fields"] | values)


def test_an_address_of_one_contact_becomes_that_contact(
    visitor: Browser, email: Interaction, make: Factory, db: Session
) -> None:
    marcus = make.contact("Chen", "Marcus", ("marcus.chen@contoso-mfg.example",))
    visitor.sign_in("admin")

    answer = add(visitor, email, role="From", address="Marcus.Chen@contoso-mfg.example")

    assert answer.status_code == 302
    db.refresh(email)
    assert [(p.role, p.contact_id) for p in email.participants] == [("From", marcus.id)]
    assert "Participant added." in visitor.get(answer.headers["Location"]).text


def test_an_address_of_several_contacts_asks_which(
    visitor: Browser, email: Interaction, make: Factory, db: Session
) -> None:
    helen = make.contact("Park", "Helen", ("helen@contoso-mfg.example",))
    make.contact("Park-Lee", "Helen", ("helen@contoso-mfg.example",))
    visitor.sign_in("admin")

    asked = add(visitor, email, role="Cc", address="helen@contoso-mfg.example")

    assert "2 contacts share this address" in asked.text
    assert "Helen Park-Lee" in asked.text
    chosen = add(
        visitor,
        email,
        role="Cc",
        address="helen@contoso-mfg.example",
        contact_id=str(helen.id),
    )
    assert chosen.status_code == 302
    db.refresh(email)
    assert [p.contact_id for p in email.participants] == [helen.id]


def test_an_employee_and_a_bare_address_can_take_part(
    visitor: Browser, email: Interaction, world: World, db: Session
) -> None:
    visitor.sign_in("admin")

    add(
        visitor, email, role="To", who="employee", user_id=str(world.users["editor"].id)
    )
    add(visitor, email, role="Cc", address="payroll@contoso-mfg.example")

    db.refresh(email)
    assert sorted((p.role, p.user_id, p.address) for p in email.participants) == [
        ("Cc", None, "payroll@contoso-mfg.example"),
        ("To", world.users["editor"].id, None),
    ]


def test_a_role_the_type_does_not_offer_is_refused(
    visitor: Browser, email: Interaction
) -> None:
    visitor.sign_in("admin")

    answer = add(visitor, email, role="Organizer", address="x@contoso-mfg.example")

    assert answer.status_code == 422
    assert "Role must be one of: From, To, Cc." in answer.text


def test_a_participants_role_changes_and_it_can_be_removed(
    visitor: Browser, email: Interaction, db: Session
) -> None:
    visitor.sign_in("admin")
    add(visitor, email, role="To", address="payroll@contoso-mfg.example")
    db.refresh(email)
    participant = email.participants[0]
    path = f"/interactions/{email.id}/participants/{participant.id}"
    forms = Forms()
    forms.feed(visitor.get(f"/interactions/{email.id}/participants").text)
    row = next(f for f in forms.forms if f.get("action") == path)

    visitor.post(path, row["fields"] | {"role": "Cc", "save": ""})
    db.refresh(participant)
    assert participant.role == "Cc"

    visitor.post(path, row["fields"] | {"delete": ""})
    db.refresh(email)
    assert email.participants == []
