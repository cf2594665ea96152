"""The Linking section of an interaction on the admin page."""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy.orm import Session

from tests.browsing import Browser, Forms
from tests.conftest import Factory


def forms_of(visitor: Browser, path: str) -> list[dict[str, Any]]:
    forms = Forms()
    forms.feed(visitor.get(path).text)
    return forms.forms


def test_finds_a_plan_by_name_links_it_and_removes_the_link(
    visitor: Browser, make: Factory, db: Session
) -> None:
    plan = make.plan(make.client("Contoso Manufacturing"), "Contoso 401(k) Plan")
    interaction = make.interaction(title="Called Marcus")
    visitor.sign_in("admin")
    path = f"/interactions/{interaction.id}/links"

    found = forms_of(visitor, f"{path}?type=plan&q=contoso")
    link = next(f for f in found if f["fields"].get("record") == f"plan:{plan.id}")
    answer = visitor.post(path, link["fields"])

    assert answer.status_code == 302
    db.refresh(interaction)
    assert [(x.record_type.value, x.record_id) for x in interaction.links] == [
        ("plan", plan.id)
    ]
    page = visitor.get(path).text
    assert "Linked." in page
    remove = next(
        f
        for f in forms_of(visitor, path)
        if f["fields"].get("record") == f"plan:{plan.id}"
    )
    visitor.post(path, remove["fields"] | {"remove": ""})
    db.refresh(interaction)
    assert interaction.links == []


def test_a_client_cannot_be_linked(visitor: Browser, make: Factory) -> None:
    client = make.client()
    interaction = make.interaction()
    visitor.sign_in("admin")
    path = f"/interactions/{interaction.id}/links"
    token = next(
        f["fields"]["csrf_token"]
        for f in forms_of(visitor, path)
        if "csrf_token" in f["fields"]
    )

    answer = visitor.post(path, {"csrf_token": token, "record": f"client:{client.id}"})

    assert answer.status_code == 422
    assert "link them to the client's plans or contacts" in html.unescape(answer.text)


def test_salespitch_kinds_are_offered_only_with_the_add_on(
    visitor: Browser, make: Factory
) -> None:
    mine = make.interaction(firm="Bright Benefits")
    visitor.sign_in("other")

    page = visitor.get(f"/interactions/{mine.id}/links").text

    assert 'value="plan"' in page
    assert 'value="prospect"' not in page
