"""The rules of interactions, through the JSON API with real tokens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.models import AuditEvent, Interaction, Link
from interactions.services.interactions import READ_ONLY
from tests.conftest import ApiClient, Factory


def new_interaction(make: Factory, **overrides: Any) -> dict[str, Any]:
    return {
        "type_id": make.type("Email").id,
        "title": "Annual census request",
    } | overrides


# -- Type and Title --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "message"),
    [("type_id", "Type is required."), ("title", "Title is required.")],
)
def test_type_and_title_are_required(
    api: ApiClient, make: Factory, missing: str, message: str
) -> None:
    body = new_interaction(make)
    del body[missing]

    response = api.post("/api/v1/interactions", body)

    assert response.status_code == 422
    assert response.json["error"] == {
        "code": "invalid",
        "message": message,
        "field": missing,
    }


def test_a_blank_title_counts_as_missing(api: ApiClient, make: Factory) -> None:
    response = api.post("/api/v1/interactions", new_interaction(make, title="   "))

    assert response.status_code == 422
    assert response.json["error"]["field"] == "title"


def test_an_interaction_is_created_with_its_links_and_participants(
    api: ApiClient, make: Factory
) -> None:
    plan = make.plan(make.client())
    contact = make.contact(emails=("dana@northwind.test",))
    body = new_interaction(
        make,
        occurred_at="2026-11-30T15:00:00+00:00",
        links=[
            {"record_type": "plan", "record_id": plan.id},
            {"record_type": "contact", "record_id": contact.id},
        ],
        participants=[
            {"role": "from", "contact_id": contact.id},
            {
                "role": "To",
                "address": "Someone@Example.test",
                "display_name": "Someone",
            },
        ],
    )

    response = api.post("/api/v1/interactions", body)

    assert response.status_code == 201, response.json
    created = response.json
    assert created["title"] == "Annual census request"
    assert created["source"] == "manual"
    assert [(p["role"], p["display_name"]) for p in created["participants"]] == [
        ("From", "Dana Rivera"),
        ("To", "Someone"),
    ]
    assert created["participants"][1]["address"] == "someone@example.test"
    assert {(link["record_type"], link["name"]) for link in created["links"]} == {
        ("plan", "Northwind 401(k) Plan"),
        ("contact", "Dana Rivera"),
    }


def test_a_role_must_be_one_the_type_offers(api: ApiClient, make: Factory) -> None:
    body = new_interaction(make, participants=[{"role": "Bcc", "address": "a@b.test"}])

    response = api.post("/api/v1/interactions", body)

    assert response.status_code == 422
    assert response.json["error"]["message"] == "Role must be one of: From, To, Cc."


# -- types -----------------------------------------------------------------------------


def test_new_interactions_take_only_active_types(api: ApiClient, make: Factory) -> None:
    phone = make.type("Phone Call")
    assert (
        api.patch(
            f"/api/v1/interaction-types/{phone.id}", {"is_active": False}
        ).status_code
        == 200
    )

    response = api.post("/api/v1/interactions", new_interaction(make, type_id=phone.id))

    assert response.status_code == 422
    assert "inactive" in response.json["error"]["message"]


def test_an_inactive_type_stays_on_old_interactions(
    api: ApiClient, make: Factory
) -> None:
    interaction = make.interaction(make.plan(make.client()), type_name="Phone Call")
    api.patch(f"/api/v1/interaction-types/{interaction.type_id}", {"is_active": False})

    response = api.patch(f"/api/v1/interactions/{interaction.id}", {"title": "Renamed"})

    assert response.status_code == 200, response.json
    assert response.json["type"]["display_name"] == "Phone Call"
    assert response.json["type"]["is_active"] is False


def test_inactive_types_drop_out_of_pickers(api: ApiClient, make: Factory) -> None:
    meeting = make.type("Meeting")
    api.patch(f"/api/v1/interaction-types/{meeting.id}", {"is_active": False})

    everything = api.get("/api/v1/interaction-types").json["types"]
    pickable = api.get("/api/v1/interaction-types?active=true").json["types"]

    assert "Meeting" in [t["display_name"] for t in everything]
    assert "Meeting" not in [t["display_name"] for t in pickable]


def test_types_are_never_deleted(api: ApiClient, make: Factory) -> None:
    response = api.delete(f"/api/v1/interaction-types/{make.type().id}")

    assert response.status_code == 405


def test_a_type_is_added_with_a_base_name_and_roles(api: ApiClient) -> None:
    body = {
        "base_name": "Meeting",
        "display_name": "Annual Plan Review",
        "description": "The yearly review with the plan sponsor.",
        "is_active": True,
        "roles": ["Presenter", "Attendee"],
    }

    response = api.post("/api/v1/interaction-types", body)

    assert response.status_code == 201, response.json
    assert response.json["roles"] == ["Presenter", "Attendee"]
    assert response.json["is_system"] is False


def test_a_base_name_comes_from_the_fixed_list(api: ApiClient) -> None:
    body = {"base_name": "Fax", "display_name": "Fax"}

    response = api.post("/api/v1/interaction-types", body)

    assert response.status_code == 422
    assert response.json["error"]["field"] == "base_name"
    assert (
        "Email, Phone Call, Appointment, Meeting" in response.json["error"]["message"]
    )


@pytest.mark.parametrize("base_name", ["Blast Email", "Secure File Exchange"])
def test_system_types_are_not_for_manual_interactions(
    api: ApiClient, make: Factory, base_name: str
) -> None:
    body = new_interaction(make, type_id=make.type(base_name).id)

    response = api.post("/api/v1/interactions", body)

    assert response.status_code == 422
    assert response.json["error"]["field"] == "type_id"


def test_maintaining_types_needs_the_right(api: ApiClient) -> None:
    response = api.post(
        "/api/v1/interaction-types",
        {"base_name": "Email", "display_name": "Newsletter"},
        as_="editor",
    )

    assert response.status_code == 403
    assert response.json["error"]["message"] == (
        "You need the Maintain List Values right to do this."
    )


# -- links -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["plan", "contact", "opportunity", "proposal", "prospect"]
)
def test_links_go_to_the_five_linkable_records(
    api: ApiClient, make: Factory, kind: str
) -> None:
    record = make.record(kind)
    interaction = make.interaction()

    response = api.post(
        f"/api/v1/interactions/{interaction.id}/links",
        {"record_type": kind, "record_id": record.id},
    )

    assert response.status_code == 201, response.json
    assert [link["record_type"] for link in response.json["links"]] == [kind]


@pytest.mark.parametrize(
    ("kind", "advice"),
    [
        ("client", "link them to the client's plans or contacts"),
        ("project", "link them to the project's plan"),
    ],
)
def test_links_to_clients_and_projects_are_refused_with_advice(
    api: ApiClient, make: Factory, kind: str, advice: str
) -> None:
    record = make.record(kind)
    interaction = make.interaction()

    response = api.post(
        f"/api/v1/interactions/{interaction.id}/links",
        {"record_type": kind, "record_id": record.id},
    )

    assert response.status_code == 422
    assert advice in response.json["error"]["message"]


def test_a_link_is_removed(api: ApiClient, make: Factory) -> None:
    plan = make.plan(make.client())
    interaction = make.interaction(plan)

    response = api.delete(
        f"/api/v1/interactions/{interaction.id}/links?record_type=plan&record_id={plan.id}"
    )

    assert response.status_code == 204
    assert api.get(f"/api/v1/interactions/{interaction.id}").json["links"] == []


# -- tier and add-on -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/interaction-types"),
        ("GET", "/api/v1/interactions?record=plan:1"),
        ("POST", "/api/v1/interactions"),
        ("GET", "/api/v1/search?types=plan&q=a"),
    ],
)
def test_interactions_need_the_team_tier_or_above(
    api: ApiClient, method: str, path: str
) -> None:
    response = api.call(method, path, as_="tracker", json={"type_id": 1, "title": "x"})

    assert response.status_code == 403
    assert "Team, Premium and Business" in response.json["error"]["message"]


@pytest.mark.parametrize("kind", ["opportunity", "proposal", "prospect"])
def test_salespitch_records_need_the_add_on(
    api: ApiClient, make: Factory, kind: str
) -> None:
    record = make.record(kind, firm="Bright Benefits")
    interaction = make.interaction(firm="Bright Benefits")

    linking = api.post(
        f"/api/v1/interactions/{interaction.id}/links",
        {"record_type": kind, "record_id": record.id},
        as_="other",
    )
    grid = api.get(f"/api/v1/interactions?record={kind}:{record.id}", as_="other")
    search = api.get(f"/api/v1/search?types={kind}&q=a", as_="other")

    for response in (linking, grid, search):
        assert response.status_code == 403
        assert "SalesPitch" in response.json["error"]["message"]


# -- system interactions ---------------------------------------------------------------


@pytest.mark.parametrize("type_name", ["Blast Email", "Secure File Exchange"])
def test_system_interactions_cannot_be_edited(
    api: ApiClient, make: Factory, type_name: str
) -> None:
    plan = make.plan(make.client())
    interaction = make.interaction(plan, type_name=type_name)
    path = f"/api/v1/interactions/{interaction.id}"

    attempts = [
        api.patch(path, {"title": "Changed"}),
        api.post(f"{path}/links", {"record_type": "plan", "record_id": plan.id}),
        api.delete(f"{path}/links?record_type=plan&record_id={plan.id}"),
        api.post(f"{path}/participants", {"role": "To", "address": "a@b.test"}),
    ]

    for response in attempts:
        assert response.status_code == 409
        assert response.json["error"]["message"] == READ_ONLY
    assert api.get(path).json["is_editable"] is False


# -- rights ----------------------------------------------------------------------------


def test_adding_needs_the_add_edit_right(api: ApiClient, make: Factory) -> None:
    response = api.post("/api/v1/interactions", new_interaction(make), as_="reader")

    assert response.status_code == 403
    assert response.json["error"]["message"] == (
        "You need the Add/Edit Interaction right to do this."
    )


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"title": "Changed"}),
        ("POST", "/links", {"record_type": "plan", "record_id": 1}),
        ("POST", "/participants", {"role": "To", "address": "a@b.test"}),
    ],
)
def test_editing_linking_and_participants_need_the_add_edit_right(
    api: ApiClient, make: Factory, method: str, suffix: str, body: dict[str, Any]
) -> None:
    interaction = make.interaction()

    response = api.call(
        method,
        f"/api/v1/interactions/{interaction.id}{suffix}",
        as_="deleter",
        json=body,
    )

    assert response.status_code == 403
    assert "Add/Edit Interaction" in response.json["error"]["message"]


def test_deleting_needs_the_delete_right(api: ApiClient, make: Factory) -> None:
    interaction = make.interaction()

    refused = api.delete(f"/api/v1/interactions/{interaction.id}", as_="editor")
    allowed = api.delete(f"/api/v1/interactions/{interaction.id}", as_="deleter")

    assert refused.status_code == 403
    assert refused.json["error"]["message"] == (
        "You need the Delete Interaction right to do this."
    )
    assert allowed.status_code == 204
    assert api.get(f"/api/v1/interactions/{interaction.id}").status_code == 404


def test_reading_needs_no_right(api: ApiClient, make: Factory) -> None:
    interaction = make.interaction()

    response = api.get(f"/api/v1/interactions/{interaction.id}", as_="reader")

    assert response.status_code == 200


# -- participants ----------------------------------------------------------------------


def test_participants_are_added_changed_and_removed(
    api: ApiClient, make: Factory
) -> None:
    interaction = make.interaction()
    contact = make.contact()
    path = f"/api/v1/interactions/{interaction.id}/participants"

    added = api.post(path, {"role": "To", "contact_id": contact.id})
    changed = api.patch(
        f"{path}/{added.json['id']}", {"role": "Cc", "contact_id": contact.id}
    )
    removed = api.delete(f"{path}/{added.json['id']}")

    assert added.status_code == 201
    assert changed.json["role"] == "Cc"
    assert removed.status_code == 204
    assert api.get(f"/api/v1/interactions/{interaction.id}").json["participants"] == []


def test_an_employee_can_be_a_participant(
    api: ApiClient, make: Factory, world: Any
) -> None:
    interaction = make.interaction()

    response = api.post(
        f"/api/v1/interactions/{interaction.id}/participants",
        {"role": "From", "user_id": world.users["editor"].id},
    )

    assert response.status_code == 201
    assert response.json["display_name"] == "Editor"


def test_a_participant_needs_someone(api: ApiClient, make: Factory) -> None:
    response = api.post(
        f"/api/v1/interactions/{make.interaction().id}/participants", {"role": "To"}
    )

    assert response.status_code == 422
    assert response.json["error"]["message"] == (
        "A participant needs a contact, an employee or an address."
    )


# -- contacts --------------------------------------------------------------------------


def test_a_contact_with_interactions_cannot_be_deleted(
    api: ApiClient, make: Factory
) -> None:
    contact = make.contact()
    make.interaction(contact)
    make.interaction(contact, title="Follow-up")

    response = api.delete(f"/api/v1/contacts/{contact.id}")

    assert response.status_code == 409
    assert response.json["error"]["message"] == (
        "Dana Rivera has 2 interactions; delete them before deleting the contact."
    )


def test_a_participating_contact_counts_too(api: ApiClient, make: Factory) -> None:
    contact = make.contact()
    interaction = make.interaction()
    api.post(
        f"/api/v1/interactions/{interaction.id}/participants",
        {"role": "To", "contact_id": contact.id},
    )

    response = api.delete(f"/api/v1/contacts/{contact.id}")

    assert response.status_code == 409
    assert "has 1 interaction;" in response.json["error"]["message"]


def test_a_contact_without_interactions_is_deleted(
    api: ApiClient, make: Factory
) -> None:
    contact = make.contact(emails=("gone@example.test",))

    response = api.delete(f"/api/v1/contacts/{contact.id}")

    assert response.status_code == 204
    assert api.delete(f"/api/v1/contacts/{contact.id}").status_code == 404


def test_contact_matching_returns_every_candidate(
    api: ApiClient, make: Factory
) -> None:
    make.contact("Rivera", "Dana", emails=("shared@northwind.test",))
    make.contact(
        "Rivera", "Sam", emails=("shared@northwind.test", "sam@northwind.test")
    )
    make.contact("Stranger", emails=("shared@northwind.test",), firm="Bright Benefits")

    response = api.get(
        "/api/v1/contacts/match?email=Shared@Northwind.test&email=nobody@x.test"
    )

    assert response.status_code == 200
    matches = {m["address"]: m["contacts"] for m in response.json["matches"]}
    assert [c["name"] for c in matches["shared@northwind.test"]] == [
        "Dana Rivera",
        "Sam Rivera",
    ]
    assert matches["nobody@x.test"] == []


# -- search ----------------------------------------------------------------------------


def test_search_finds_records_of_the_asked_types(api: ApiClient, make: Factory) -> None:
    client = make.client("Contoso")
    make.plan(client, "Contoso Cash Balance Plan")
    make.plan(client, "Fabrikam 401(k)")
    make.record("prospect", name="Contoso Labs")
    make.contact("Contosovich", emails=("c@c.test",))

    response = api.get("/api/v1/search?types=plan,prospect&q=contoso")

    assert response.status_code == 200
    assert [
        (r["record_type"], r["name"], r["detail"]) for r in response.json["results"]
    ] == [
        ("plan", "Contoso Cash Balance Plan", "Contoso"),
        ("prospect", "Contoso Labs", ""),
    ]


def test_search_treats_wildcards_literally(api: ApiClient, make: Factory) -> None:
    make.plan(make.client(), "Plan A")

    response = api.get("/api/v1/search?types=plan&q=%25")

    assert response.json["results"] == []


def test_search_refuses_clients_with_advice(api: ApiClient) -> None:
    response = api.get("/api/v1/search?types=client&q=a")

    assert response.status_code == 422
    assert "plans or contacts" in response.json["error"]["message"]


# -- audit -----------------------------------------------------------------------------


def test_every_change_writes_an_audit_event(
    api: ApiClient, make: Factory, db: Session, world: Any
) -> None:
    plan = make.plan(make.client())
    created = api.post("/api/v1/interactions", new_interaction(make)).json
    path = f"/api/v1/interactions/{created['id']}"
    api.patch(path, {"title": "Changed"})
    api.post(f"{path}/links", {"record_type": "plan", "record_id": plan.id})
    api.delete(f"{path}/links?record_type=plan&record_id={plan.id}")
    participant = api.post(
        f"{path}/participants", {"role": "To", "address": "a@b.test"}
    ).json
    api.patch(
        f"{path}/participants/{participant['id']}",
        {"role": "Cc", "address": "a@b.test"},
    )
    api.delete(f"{path}/participants/{participant['id']}")
    api.delete(path)

    events = db.execute(
        select(AuditEvent.action, AuditEvent.user_id)
        .where(
            AuditEvent.record_type == "interaction",
            AuditEvent.record_id == created["id"],
        )
        .order_by(AuditEvent.id)
    ).all()

    assert [action for action, _ in events] == [
        "create",
        "update",
        "link",
        "unlink",
        "add_participant",
        "update_participant",
        "delete_participant",
        "delete",
    ]
    assert {user_id for _, user_id in events} == {world.users["admin"].id}


def test_a_refused_change_writes_nothing(
    api: ApiClient, make: Factory, db: Session
) -> None:
    api.post("/api/v1/interactions", new_interaction(make), as_="reader")

    assert db.scalar(select(Interaction.id)) is None
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "create")) is None


def test_editing_the_date_moves_the_interaction_in_every_grid(
    api: ApiClient, make: Factory, db: Session
) -> None:
    interaction = make.interaction(make.plan(make.client()), make.contact())

    api.patch(
        f"/api/v1/interactions/{interaction.id}",
        {"occurred_at": "2020-01-01T00:00:00Z"},
    )

    years = db.scalars(
        select(Link.occurred_at).where(Link.interaction_id == interaction.id)
    )
    assert {moment.year for moment in years} == {2020}


def test_a_body_in_html_is_sanitized_whoever_writes_it(
    api: ApiClient, make: Factory, db: Session
) -> None:
    made = api.post(
        "/api/v1/interactions",
        {
            "type_id": make.type("Meeting").id,
            "title": "Review",
            "body_html": '<p onclick="x()">Fine</p><script>alert(1)</script>',
        },
    )
    changed = api.patch(
        f"/api/v1/interactions/{made.json['id']}",
        {"body_html": '<b>Bold</b><img src=x onerror="alert(2)">'},
    )

    assert made.status_code == 201, made.json
    assert (
        "script" not in made.json["body_html"]
        and "onclick" not in made.json["body_html"]
    )
    assert (
        "onerror" not in changed.json["body_html"]
        and "<b>Bold</b>" in changed.json["body_html"]
    )
