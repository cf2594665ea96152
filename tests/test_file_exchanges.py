"""Secure File Exchange: a reported exchange becomes one non-editable interaction."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from interactions.errors import Unauthenticated
from interactions.models import IntegrationKey, Interaction, RecordType, Source
from interactions.services import integrations
from interactions.services.interactions import READ_ONLY
from tests.conftest import ApiClient, Factory, World


@pytest.fixture
def key(db: Session, world: World) -> str:
    return integrations.make_key(db, world.firm_ids["Acme Pensions"], "File exchange")


def report(**overrides: Any) -> dict[str, Any]:
    return {
        "exchange_id": "sfe-2026-0042",
        "sender": {"address": "Editor@acme.test", "name": "Editor"},
        "recipients": [
            {"address": "dana.rivera@northwind.test", "name": "Dana Rivera"},
            {"address": "auditor@cpa.test", "name": "The auditor"},
        ],
        "files": [{"name": "2026 census.xlsx", "size": 48213}],
        "sent_at": "2026-11-30T14:05:00+00:00",
        "expires_at": "2026-12-14T14:05:00+00:00",
    } | overrides


def deliver(client: FlaskClient, key: str, body: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/file-exchanges", json=body, headers={"Authorization": f"Bearer {key}"}
    )


def test_a_report_becomes_a_read_only_interaction_with_its_participants(
    app: Any, key: str, make: Factory, db: Session, api: ApiClient
) -> None:
    plan = make.plan(make.client())
    dana = make.contact(emails=("dana.rivera@northwind.test",))
    make.type("Secure File Exchange")

    answer = deliver(app.test_client(), key, report(plan_id=plan.id))

    assert answer.status_code == 200, answer.json
    assert answer.json["created"] is True
    interaction = db.get_one(Interaction, answer.json["interaction_id"])
    assert interaction.source is Source.SECURE_FILE_EXCHANGE
    assert interaction.title == "Secure files sent: 2026 census.xlsx"
    assert "Dec 14, 2026" in interaction.body_text
    assert [(p.role, p.contact_id, p.address) for p in interaction.participants][
        1:
    ] == [
        ("To", dana.id, "dana.rivera@northwind.test"),
        ("To", None, "auditor@cpa.test"),
    ]
    assert interaction.participants[0].user_id is not None
    assert {(x.record_type, x.record_id) for x in interaction.links} == {
        (RecordType.PLAN, plan.id),
        (RecordType.CONTACT, dana.id),
    }
    edit = api.patch(f"/api/v1/interactions/{interaction.id}", {"title": "Changed"})
    assert edit.status_code == 409 and edit.json["error"]["message"] == READ_ONLY


def test_a_report_delivered_again_finds_its_interaction(
    app: Any, key: str, make: Factory, db: Session
) -> None:
    make.type("Secure File Exchange")
    client = app.test_client()

    first = deliver(client, key, report())
    again = deliver(client, key, report())

    assert (first.json["created"], again.json["created"]) == (True, False)
    assert first.json["interaction_id"] == again.json["interaction_id"]
    assert db.scalar(select(func.count()).select_from(Interaction)) == 1


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "Send an access token"),
        ({"Authorization": "Bearer ixk_not-a-key"}, "not valid"),
    ],
)
def test_only_a_valid_integration_key_reports(
    app: Any, headers: dict[str, str], says: str
) -> None:
    answer = app.test_client().post(
        "/api/v1/file-exchanges", json=report(), headers=headers
    )

    assert answer.status_code == 401
    assert says in answer.json["error"]["message"]


def test_a_revoked_key_is_refused(
    app: Any, key: str, db: Session, world: World
) -> None:
    integrations.revoke_key(db, world.firm_ids["Acme Pensions"], "File exchange")

    assert deliver(app.test_client(), key, report()).status_code == 401


def test_a_persons_token_cannot_report_and_a_key_cannot_act_as_a_person(
    app: Any, key: str, api: ApiClient
) -> None:
    as_person = api.client.post(
        "/api/v1/file-exchanges",
        json=report(),
        headers={"Authorization": f"Bearer {api.tokens('admin')}"},
    )
    as_key = app.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {key}"}
    )

    assert as_person.status_code == 401
    assert as_key.status_code == 401


def test_the_sender_must_be_one_of_the_firms_people(
    app: Any, key: str, make: Factory
) -> None:
    make.type("Secure File Exchange")
    body = report(sender={"address": "other@bright.test", "name": "Other"})

    answer = deliver(app.test_client(), key, body)

    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "sender"


def test_another_firms_plan_is_refused(app: Any, key: str, make: Factory) -> None:
    make.type("Secure File Exchange")
    theirs = make.plan(make.client(firm="Bright Benefits"))

    answer = deliver(app.test_client(), key, report(plan_id=theirs.id))

    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "plan_id"


def test_a_bad_report_says_which_field(app: Any, key: str) -> None:
    answer = deliver(app.test_client(), key, report(files=[]))

    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "files"


def test_keys_are_made_and_revoked_from_the_command_line(
    engine: Any, settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from interactions import keys

    monkeypatch.setattr(keys, "load_settings", lambda: settings)
    keys.main(["make", "Acme Pensions", "Command line"])
    made = capsys.readouterr().out.strip()

    with Session(engine) as session:
        assert integrations.firm_of_key(session, made).name == "Acme Pensions"
    keys.main(["revoke", "Acme Pensions", "Command line"])
    assert capsys.readouterr().out.strip() == "Revoked 1 key(s)."
    with Session(engine) as session, pytest.raises(Unauthenticated):
        integrations.firm_of_key(session, made)
    with Session(engine) as session, session.begin():
        session.execute(
            delete(IntegrationKey).where(IntegrationKey.name == "Command line")
        )


def test_the_token_caches_are_rotated_from_the_command_line(
    settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from interactions import keys

    monkeypatch.setattr(keys, "load_settings", lambda: settings)
    keys.main(["rotate-token-caches"])

    assert capsys.readouterr().out.startswith("Re-encrypted ")
