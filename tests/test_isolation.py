"""Nothing of one firm shows to another: its ids behave like ids that do not exist."""

from __future__ import annotations

import re
from typing import Any

import pytest

from interactions.models import Blast, Capture, Participant, Resend
from tests.conftest import ApiClient, Factory, World, openapi_document

pytestmark = pytest.mark.security

MISSING = 987654


def other_firm_records(make: Factory, world: World) -> dict[str, Any]:
    firm = "Bright Benefits"
    theirs = world.actors["other"]
    plan = make.plan(make.client(firm=firm))
    contact = make.contact(firm=firm)
    interaction = make.interaction(plan, firm=firm)
    participant = Participant(
        firm_id=theirs.firm_id, role="To", address="their.client@bright.test"
    )
    interaction.participants.append(participant)
    capture = make._add(
        Capture(
            firm_id=theirs.firm_id,
            user_id=theirs.user_id,
            payload={"item": {"subject": "Theirs"}},
        )
    )
    resend = make._add(
        Resend(
            firm_id=theirs.firm_id,
            user_id=theirs.user_id,
            interaction_id=interaction.id,
            subject="Theirs",
            recipients=[],
        )
    )
    blast = make._add(
        Blast(
            firm_id=theirs.firm_id, sender_id=theirs.user_id, subject="Theirs", body=""
        )
    )
    return {
        "plan": plan.id,
        "contact": contact.id,
        "client": plan.client_id,
        "interaction": interaction.id,
        "type": make.type("Email", firm=firm).id,
        "participant": participant.id,
        "capture": capture.id,
        "resend": resend.id,
        "blast": blast.id,
    }


REQUESTS = [
    ("GET", "/api/v1/interactions/{interaction}", None),
    ("PATCH", "/api/v1/interactions/{interaction}", {"title": "Mine now"}),
    ("DELETE", "/api/v1/interactions/{interaction}", None),
    (
        "POST",
        "/api/v1/interactions/{interaction}/participants",
        {"role": "To", "address": "a@b.test"},
    ),
    ("GET", "/api/v1/interactions?record=plan:{plan}", None),
    ("GET", "/api/v1/interactions?record=contact:{contact}", None),
    ("GET", "/api/v1/interactions?record=client:{client}", None),
    (
        "PATCH",
        "/api/v1/interactions/{interaction}/participants/{participant}",
        {"role": "Cc"},
    ),
    ("DELETE", "/api/v1/interactions/{interaction}/participants/{participant}", None),
    (
        "POST",
        "/api/v1/interactions/{interaction}/links",
        {"record_type": "plan", "record_id": 1},
    ),
    (
        "DELETE",
        "/api/v1/interactions/{interaction}/links?record_type=plan&record_id=1",
        None,
    ),
    ("GET", "/api/v1/interactions/{interaction}/resend", None),
    ("POST", "/api/v1/interactions/{interaction}/resend", {}),
    ("GET", "/api/v1/interactions/{interaction}/resends", None),
    ("GET", "/api/v1/resends/{resend}", None),
    ("GET", "/api/v1/captures/{capture}", None),
    ("GET", "/api/v1/blasts/{blast}", None),
    ("PATCH", "/api/v1/interaction-types/{type}", {"is_active": False}),
    ("DELETE", "/api/v1/contacts/{contact}", None),
]


def test_every_operation_on_an_id_is_swept() -> None:
    """A new operation that takes an id joins the sweep below, or this fails."""
    swept = {
        (method, re.sub(r"\{(\w+)\}", r"{\1_id}", template.split("?")[0]))
        for method, template, _ in REQUESTS
    }
    documented = {
        (method.upper(), path.removeprefix("/api/v1").join(["/api/v1", ""]))
        for path, operations in openapi_document()["paths"].items()
        for method in operations
        if "{" in path
    }

    assert documented - swept == set()


@pytest.mark.parametrize(("method", "template", "body"), REQUESTS)
def test_another_firms_ids_are_not_found(
    api: ApiClient,
    make: Factory,
    world: World,
    method: str,
    template: str,
    body: Any,
) -> None:
    theirs = other_firm_records(make, world)
    missing = dict.fromkeys(theirs, MISSING)

    foreign = api.call(method, template.format(**theirs), json=body)
    absent = api.call(method, template.format(**missing), json=body)

    assert foreign.status_code == absent.status_code == 404
    assert foreign.json["error"]["code"] == absent.json["error"]["code"] == "not_found"
    assert foreign.json["error"]["message"] == absent.json["error"]["message"].replace(
        str(MISSING), str(theirs[template.split("{")[1].split("}")[0]])
    )


@pytest.mark.parametrize("kind", ["plan", "contact"])
def test_linking_to_another_firms_record_is_not_found(
    api: ApiClient, make: Factory, world: World, kind: str
) -> None:
    theirs = other_firm_records(make, world)
    mine = make.interaction()

    response = api.post(
        f"/api/v1/interactions/{mine.id}/links",
        {"record_type": kind, "record_id": theirs[kind]},
    )

    assert response.status_code == 404


def test_another_firms_contact_cannot_be_a_participant(
    api: ApiClient, make: Factory, world: World
) -> None:
    theirs = other_firm_records(make, world)

    response = api.post(
        f"/api/v1/interactions/{make.interaction().id}/participants",
        {"role": "To", "contact_id": theirs["contact"]},
    )

    assert response.status_code == 422
    assert response.json["error"]["field"] == "contact_id"


def test_another_firms_contact_cannot_be_a_new_interactions_participant(
    api: ApiClient, make: Factory, world: World
) -> None:
    theirs = other_firm_records(make, world)
    mine = make.contact(emails=("dana@northwind.test",))

    response = api.post(
        "/api/v1/interactions",
        {
            "type_id": make.type("Email").id,
            "title": "Census",
            "participants": [
                {"role": "From", "contact_id": mine.id},
                {"role": "To", "contact_id": theirs["contact"]},
            ],
        },
    )

    assert response.status_code == 422
    assert response.json["error"]["field"] == "contact_id"


def test_another_firms_type_cannot_be_used_to_capture(
    api: ApiClient, make: Factory, world: World
) -> None:
    theirs = other_firm_records(make, world)

    response = api.post(
        "/api/v1/captures",
        {
            "type_id": theirs["type"],
            "title": "Borrowed type",
            "item": {"internet_message_id": "<borrowed@northwind.test>"},
        },
    )

    assert response.status_code == 422
    assert response.json["error"]["message"] == "Choose a type from the list."


def test_another_firms_type_cannot_be_used(
    api: ApiClient, make: Factory, world: World
) -> None:
    theirs = other_firm_records(make, world)

    response = api.post(
        "/api/v1/interactions", {"type_id": theirs["type"], "title": "Borrowed type"}
    )

    assert response.status_code == 422
    assert response.json["error"]["message"] == "Choose a type from the list."


def test_search_and_lists_show_only_the_firms_own(
    api: ApiClient, make: Factory
) -> None:
    make.plan(make.client(firm="Bright Benefits"), "Shared Name Plan")

    found = api.get("/api/v1/search?types=plan&q=shared").json["results"]
    types = api.get("/api/v1/interaction-types").json["types"]

    assert found == []
    assert len(types) == 6
