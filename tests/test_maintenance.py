"""Maintenance > List Values > Interaction on the admin page."""

from __future__ import annotations

import html

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.models import InteractionType
from tests.browsing import Browser, Forms
from tests.conftest import Factory

TYPES = "/maintenance/list-values/interaction"


def token(visitor: Browser, path: str) -> str:
    forms = Forms()
    forms.feed(visitor.get(path).text)
    return [f for f in forms.forms if "csrf_token" in f["fields"]][-1]["fields"][
        "csrf_token"
    ]


def test_lists_the_firms_types_with_their_roles(visitor: Browser) -> None:
    visitor.sign_in("admin")

    page = visitor.get(TYPES).text

    assert "Phone Call" in page
    assert "From, To, Cc" in page


def test_maintaining_types_needs_the_right(visitor: Browser) -> None:
    visitor.sign_in("editor")

    answer = visitor.get(TYPES)

    assert answer.status_code == 403
    assert "Maintain List Values" in answer.text
    assert "Maintenance</summary>" not in visitor.get("/").text


def test_adds_a_type_with_its_roles_in_order(visitor: Browser, db: Session) -> None:
    visitor.sign_in("admin")
    path = f"{TYPES}/new"

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "base_name": "Meeting",
            "display_name": "Annual plan review",
            "description": "The yearly review with the plan sponsor",
            "is_active": "on",
            "roles": "Advisor\n\nSponsor\nAttendee\n",
        },
    )

    assert answer.status_code == 302
    added = db.scalars(
        select(InteractionType).where(
            InteractionType.display_name == "Annual plan review"
        )
    ).one()
    assert added.roles == ["Advisor", "Sponsor", "Attendee"]
    assert "Interaction type “Annual plan review” added." in visitor.get(TYPES).text


def test_a_taken_name_is_refused_beside_the_field(visitor: Browser) -> None:
    visitor.sign_in("admin")
    path = f"{TYPES}/new"

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "base_name": "Email",
            "display_name": "Phone Call",
            "roles": "From",
        },
    )

    assert answer.status_code == 409
    assert "already called Phone Call" in html.unescape(answer.text)
    assert 'aria-invalid="true"' in answer.text


def test_a_deactivated_type_leaves_the_picker_and_stays_on_old_interactions(
    visitor: Browser, make: Factory
) -> None:
    phone = make.type("Phone Call")
    old = make.interaction(
        make.record("plan"), title="Old call", type_name="Phone Call"
    )
    visitor.sign_in("admin")
    path = f"{TYPES}/{phone.id}"
    assert 'name="is_active" checked' in visitor.get(path).text

    visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "base_name": "Phone Call",
            "display_name": "Phone Call",
            "roles": "Caller\nCalled",
        },
    )

    picker = visitor.get("/interactions/new").text
    assert f'value="{phone.id}"' not in picker
    assert "Phone Call" in visitor.get(f"/interactions/{old.id}").text
    assert "No (kept on old interactions)" in visitor.get(TYPES).text
