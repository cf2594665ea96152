"""The slider's Linking section without scripts, the grid's search, and a dropped
file's draft saved through the capture pipeline."""

from __future__ import annotations

import html
import io
import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from interactions.models import Capture, CaptureStatus, Interaction, Source
from interactions.services.capture_processing import process_capture
from tests.browsing import Browser
from tests.conftest import Factory
from tests.test_editing import slider_fields, slider_fields_of
from tests.test_imports import eml, no_mailbox


def test_linking_finds_by_name_adds_and_removes_then_saves(
    visitor: Browser, make: Factory, db: Session
) -> None:
    contoso = make.plan(make.client("Contoso Manufacturing"), "Contoso 401(k) Plan")
    northwind = make.plan(make.client("Northwind Traders"), "Northwind 401(k) Plan")
    interaction = make.interaction(northwind, title="Called Marcus")
    visitor.sign_in("admin")
    path = f"/interactions/{interaction.id}/edit"
    fields = slider_fields(visitor, path) | {
        "type_id": str(interaction.type_id),
        "title": "Called Marcus",
        "occurred_at": "2026-11-30T14:05",
    }

    found = visitor.post(
        path, fields | {"link_type": "plan", "link_q": "contoso", "find": ""}
    )
    assert found.status_code == 200
    assert f'name="link_add" value="plan:{contoso.id}"' in found.text

    added = visitor.post(path, fields | {"link_add": f"plan:{contoso.id}"})
    assert f'name="link" value="plan:{contoso.id}"' in added.text
    assert (
        db.get_one(type(interaction), interaction.id).links[0].record_id == northwind.id
    )

    # The form's one link is now Contoso's: Northwind's was removed.
    saved = visitor.post(path, fields | {"link": f"plan:{contoso.id}", "save": ""})
    assert saved.status_code == 302
    db.refresh(interaction)
    assert [(x.record_type.value, x.record_id) for x in interaction.links] == [
        ("plan", contoso.id)
    ]


def test_a_name_that_matches_nothing_says_so(visitor: Browser, make: Factory) -> None:
    visitor.sign_in("admin")
    fields = slider_fields(visitor, "/interactions/new")

    page = visitor.post(
        "/interactions/new",
        fields | {"link_type": "plan", "link_q": "nothing like it", "find": ""},
    )

    assert "No plan is called “nothing like it”." in html.unescape(page.text)


def test_a_client_cannot_be_linked(visitor: Browser, make: Factory) -> None:
    client = make.client()
    visitor.sign_in("admin")
    fields = slider_fields(visitor, "/interactions/new")

    page = visitor.post(
        "/interactions/new", fields | {"link_add": f"client:{client.id}"}
    )

    assert page.status_code == 422
    assert "link them to the client's plans" in html.unescape(page.text)


def test_another_firms_record_cannot_be_linked(visitor: Browser, make: Factory) -> None:
    theirs = make.plan(make.client(firm="Bright Benefits"))
    visitor.sign_in("admin")
    fields = slider_fields(visitor, "/interactions/new")

    page = visitor.post("/interactions/new", fields | {"link_add": f"plan:{theirs.id}"})

    assert page.status_code == 404


def test_the_grid_searches_title_and_body(visitor: Browser, make: Factory) -> None:
    plan = make.plan(make.client())
    make.interaction(plan, title="Loan request")
    noted = make.interaction(plan, title="Phone call")
    noted.body_text = "She asked about the LOAN payoff."
    make.interaction(plan, title="Census file")
    visitor.sign_in("admin")

    page = visitor.get(f"/records/plan/{plan.id}?search=loan").text

    assert "Loan request" in page and "Phone call" in page
    assert "Census file" not in page
    none = visitor.get(f"/records/plan/{plan.id}?search=100%25").text
    assert "No interaction in this period contains “100%”." in html.unescape(none)


def test_a_dropped_files_draft_opens_the_slider_and_saves_as_a_capture(
    visitor: Browser, make: Factory, db: Session, sessions: sessionmaker[Session]
) -> None:
    plan = make.plan(make.client())
    dana = make.contact(emails=("dana.rivera@northwind.test",))
    make.type("Email")
    visitor.sign_in("admin")
    token = slider_fields(visitor, "/interactions/new")["csrf_token"]
    draft = visitor.client.post(
        f"/api/v1/imports?record=plan:{plan.id}",
        data={"file": (io.BytesIO(eml()), "loan.eml")},
        headers={"X-CSRF-Token": token},
        base_url="https://localhost",
    ).json

    slider = visitor.post(
        "/interactions/new",
        {"csrf_token": token, "prefill": "", "draft": json.dumps(draft)},
    )
    assert slider.status_code == 200
    text = html.unescape(slider.text)
    assert 'value="Loan request for R. Chen"' in text
    assert f'name="link" value="plan:{plan.id}"' in text
    assert "loan.pdf" in text and "content is not kept" in text

    fields = slider_fields_of(slider.text)
    participants = {
        f"participant-{i}": str(p["contact_id"] or "")
        for i, p in enumerate(draft["participants"])
    }
    saved = visitor.post(
        "/interactions/new",
        fields | participants | {"type_id": str(draft["type_id"]), "title": "Loan"},
    )

    assert saved.status_code == 302
    capture = db.scalars(select(Capture)).one()
    assert saved.headers["Location"] == f"/captures/{capture.id}"
    assert "Waiting for a worker" in visitor.get(saved.headers["Location"]).text
    process_capture(sessions, capture.id, no_mailbox)
    db.refresh(capture)
    assert capture.status is CaptureStatus.STORED
    opened = visitor.get(f"/captures/{capture.id}")
    assert opened.headers["Location"] == f"/interactions/{capture.interaction_id}"
    stored = db.get_one(Interaction, capture.interaction_id)
    assert (stored.title, stored.source) == ("Loan", Source.FILE_IMPORT)
    assert [link.record_id for link in stored.links] == [plan.id]
    assert dana.id in {p.contact_id for p in stored.participants}


def test_nul_characters_in_a_form_or_a_query_are_dropped(
    visitor: Browser, make: Factory, db: Session
) -> None:
    plan = make.plan(make.client())
    phone = make.type("Phone Call")
    visitor.sign_in("admin")
    fields = slider_fields(visitor, f"/interactions/new?record=plan:{plan.id}")

    saved = visitor.post(
        "/interactions/new",
        fields
        | {
            "type_id": str(phone.id),
            "title": "Called\x00 Dana",
            "occurred_at": "2026-11-30T14:05",
            "body_text": "Notes\x00",
        },
    )
    found = visitor.get(f"/records/plan/{plan.id}?search=Dana%00&show_for_last=all")

    assert saved.status_code == 302
    assert "Called Dana" in found.text


def test_a_damaged_draft_is_refused_with_a_reason(visitor: Browser) -> None:
    visitor.sign_in("admin")
    token = slider_fields(visitor, "/interactions/new")["csrf_token"]

    for draft in ("not json", json.dumps({"title": "no item"})):
        page = visitor.post(
            "/interactions/new", {"csrf_token": token, "prefill": "", "draft": draft}
        )
        assert page.status_code == 422
        assert "drop the file again" in html.unescape(page.text)

    bare = visitor.post(
        "/interactions/new",
        {"csrf_token": token, "prefill": "", "draft": json.dumps({"item": {}})},
    )
    assert bare.status_code == 200
