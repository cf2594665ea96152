"""Captures from the add-in: accepted, queued after the commit, processed once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from interactions.db import make_session_factory
from interactions.errors import NotFound, TemporarilyUnavailable
from interactions.models import (
    AuditEvent,
    Capture,
    CaptureStatus,
    Interaction,
    Participant,
    Right,
    SecurityGroup,
    Source,
)
from interactions.models._types import utcnow
from interactions.services import captures
from interactions.services.capture_processing import (
    MAX_ATTEMPTS,
    RetryLater,
    process_capture,
)
from tests.conftest import ApiClient, Factory, World

MESSAGE_ID = "<census-2026@northwind.test>"


def item(**overrides: Any) -> dict[str, Any]:
    return {
        "rest_id": "AAMkAGI2TAAA=",
        "internet_message_id": MESSAGE_ID,
        "conversation_id": "AAQkAGI2conv",
        "subject": "2026 census file",
        "from": {"address": "Dana.Rivera@Northwind.test", "name": "Dana Rivera"},
        "to": [{"address": "admin@acme.test", "name": "Admin"}],
        "cc": [{"address": "shared@northwind.test", "name": "Payroll"}],
        "sent_at": "2026-11-30T14:05:00+00:00",
        "body_html": (
            "<p>Census attached.<script>alert(1)</script></p>"
            '<img src=x onerror="alert(2)">'
        ),
        "attachments": [
            {
                "name": "census.xlsx",
                "content_type": "application/vnd.ms-excel",
                "size": 48213,
            }
        ],
    } | overrides


def capture_body(make: Factory, **overrides: Any) -> dict[str, Any]:
    return {
        "item": item(),
        "type_id": make.type("Email").id,
        "title": "2026 census file",
        "links": [],
    } | overrides


class Mailbox:
    """A user's mailbox as the worker sees it, with failures on demand."""

    closed = False

    def __init__(
        self, message: dict[str, Any] | None = None, error: Exception | None = None
    ) -> None:
        self.message = message or {}
        self.error = error
        self.calls: list[str] = []

    def get_message(self, rest_id: str) -> dict[str, Any]:
        self.calls.append(f"message {rest_id}")
        if self.error:
            raise self.error
        return self.message

    def list_attachments(self, rest_id: str) -> list[dict[str, Any]]:
        self.calls.append(f"attachments {rest_id}")
        if self.error:
            raise self.error
        return [
            {
                "name": "plan.pdf",
                "contentType": "application/pdf",
                "size": 1200,
                "isInline": False,
            }
        ]

    def close(self) -> None:
        self.closed = True


def submit(api: ApiClient, body: dict[str, Any], as_: str = "admin") -> Any:
    return api.post("/api/v1/captures", body, as_=as_)


# -- accepting -------------------------------------------------------------------------


def test_a_capture_is_accepted_and_queued_after_the_commit(
    api: ApiClient, make: Factory, queue: Any, db: Session
) -> None:
    response = submit(api, capture_body(make))

    assert response.status_code == 202, response.json
    assert response.json["status"] == "queued"
    assert queue.sent == [("interactions.process_capture", (response.json["id"],))]
    stored = db.get_one(Capture, response.json["id"])
    assert stored.payload["item"]["subject"] == "2026 census file"
    assert stored.internet_message_id == MESSAGE_ID


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": " "}, "title"),
        ({"type_id": None}, "type_id"),
        ({"links": [{"record_type": "client", "record_id": 1}]}, "record_type"),
        (
            {"item": {"subject": "x", "to": [{"address": "a" * 400}]}},
            "item.to.0.address",
        ),
    ],
)
def test_a_bad_capture_is_refused_and_nothing_is_queued(
    api: ApiClient,
    make: Factory,
    queue: Any,
    db: Session,
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = submit(api, capture_body(make, **overrides))

    assert response.status_code == 422
    assert response.json["error"]["field"] == field
    assert queue.sent == []
    assert db.scalar(select(func.count()).select_from(Capture)) == 0


def test_capturing_needs_the_add_edit_right(
    api: ApiClient, make: Factory, queue: Any
) -> None:
    response = submit(api, capture_body(make), as_="reader")

    assert response.status_code == 403
    assert "Add/Edit Interaction" in response.json["error"]["message"]
    assert queue.sent == []


def test_a_message_already_logged_is_a_duplicate_at_once(
    api: ApiClient, make: Factory, queue: Any, db: Session
) -> None:
    logged = make.interaction(title="Census")
    logged.internet_message_id = MESSAGE_ID
    db.flush()

    response = submit(api, capture_body(make))

    assert response.json["status"] == "duplicate"
    assert response.json["interaction_id"] == logged.id
    assert queue.sent == []


def test_lookup_says_whether_a_message_is_logged(
    api: ApiClient, make: Factory, db: Session
) -> None:
    before = api.get(f"/api/v1/captures/lookup?internet_message_id={MESSAGE_ID}")
    logged = make.interaction()
    logged.internet_message_id = MESSAGE_ID
    db.flush()
    after = api.get(f"/api/v1/captures/lookup?internet_message_id={MESSAGE_ID}")

    assert before.json["is_logged"] is False
    assert after.json["is_logged"] is True
    assert after.json["interaction_id"] == logged.id


def test_another_firms_capture_is_not_found(api: ApiClient, make: Factory) -> None:
    created = submit(api, capture_body(make)).json

    mine = api.get(f"/api/v1/captures/{created['id']}")
    theirs = api.get(f"/api/v1/captures/{created['id']}", as_="other")

    assert mine.status_code == 200
    assert theirs.status_code == 404


# -- processing ------------------------------------------------------------------------


def accepted(db: Session, world: World, make: Factory, **overrides: Any) -> Capture:
    payload = capture_body(make, **overrides)
    capture = captures.submit_capture(db, world.actors["admin"], payload)
    db.flush()
    return capture


def test_processing_stores_the_interaction(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    dana = make.contact("Rivera", "Dana", emails=("dana.rivera@northwind.test",))
    make.contact("One", emails=("shared@northwind.test",))
    make.contact("Two", emails=("shared@northwind.test",))
    plan = make.plan(make.client())
    capture = accepted(
        db, world, make, links=[{"record_type": "plan", "record_id": plan.id}]
    )
    mailbox = Mailbox()

    status = process_capture(sessions, capture.id, lambda session, user_id: mailbox)

    assert status is CaptureStatus.STORED
    db.refresh(capture)
    interaction = db.get_one(Interaction, capture.interaction_id)
    assert interaction.source is Source.OUTLOOK_ADDIN
    assert interaction.internet_message_id == MESSAGE_ID
    assert interaction.conversation_id == "AAQkAGI2conv"
    assert interaction.title == "2026 census file"
    assert (
        "script" not in interaction.body_html and "onerror" not in interaction.body_html
    )
    assert "Census attached." in interaction.body_text
    assert [a["name"] for a in interaction.attachments] == ["census.xlsx"]
    assert [(link.record_type.value, link.record_id) for link in interaction.links] == [
        ("plan", plan.id)
    ]
    people = {(p.role, p.address): p.contact_id for p in interaction.participants}
    assert people == {
        ("From", "dana.rivera@northwind.test"): dana.id,
        ("To", "admin@acme.test"): None,
        (
            "Cc",
            "shared@northwind.test",
        ): None,  # two contacts share it: left to a person
    }
    assert mailbox.calls == []  # the pane sent all there was


def test_the_persons_choice_of_participants_wins(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    two = make.contact("Two", emails=("shared@northwind.test",))
    capture = accepted(
        db,
        world,
        make,
        participants=[
            {"role": "Cc", "contact_id": two.id, "address": "shared@northwind.test"}
        ],
    )

    process_capture(sessions, capture.id, lambda session, user_id: Mailbox())

    db.refresh(capture)
    participants = db.scalars(
        select(Participant).where(Participant.interaction_id == capture.interaction_id)
    ).all()
    assert [(p.role, p.contact_id) for p in participants] == [("Cc", two.id)]


def test_processing_twice_stores_once(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    capture = accepted(db, world, make)

    first = process_capture(sessions, capture.id, lambda session, user_id: Mailbox())
    again = process_capture(sessions, capture.id, lambda session, user_id: Mailbox())

    assert (first, again) == (CaptureStatus.STORED, None)
    assert db.scalar(select(func.count()).select_from(Interaction)) == 1


def test_a_capture_whose_workers_died_every_time_fails_with_its_reason(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    capture = accepted(db, world, make)
    # Each earlier try was claimed, then its worker process died under it.
    capture.status = CaptureStatus.PROCESSING
    capture.attempts = MAX_ATTEMPTS
    db.flush()

    status = process_capture(sessions, capture.id, lambda session, user_id: Mailbox())

    db.refresh(capture)
    assert status is CaptureStatus.FAILED
    assert capture.status is CaptureStatus.FAILED
    assert "the worker stopped each time" in capture.reason
    assert db.scalar(select(func.count()).select_from(Interaction)) == 0


def test_the_same_message_captured_twice_gives_one_interaction(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    first = accepted(db, world, make)
    second = accepted(db, world, make)

    results = [
        process_capture(sessions, capture.id, lambda session, user_id: Mailbox())
        for capture in (first, second)
    ]

    assert results == [CaptureStatus.STORED, CaptureStatus.DUPLICATE]
    db.refresh(second)
    db.refresh(first)
    assert second.interaction_id == first.interaction_id
    assert db.scalar(select(func.count()).select_from(Interaction)) == 1


def test_what_the_pane_could_not_read_comes_from_the_mailbox(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    capture = accepted(
        db, world, make, item={"rest_id": "AAMk-compose", "subject": "Draft"}
    )
    mailbox = Mailbox(
        {
            "internetMessageId": "<from-graph@acme.test>",
            "subject": "Plan amendment",
            "from": {"emailAddress": {"address": "admin@acme.test", "name": "Admin"}},
            "toRecipients": [],
            "ccRecipients": [],
            "sentDateTime": "2026-11-01T09:00:00Z",
            "body": {"contentType": "html", "content": "<p>Amendment draft</p>"},
            "hasAttachments": True,
        }
    )

    status = process_capture(sessions, capture.id, lambda session, user_id: mailbox)

    assert status is CaptureStatus.STORED
    db.refresh(capture)
    interaction = db.get_one(Interaction, capture.interaction_id)
    assert interaction.internet_message_id == "<from-graph@acme.test>"
    assert [a["name"] for a in interaction.attachments] == ["plan.pdf"]
    assert mailbox.calls == ["message AAMk-compose", "attachments AAMk-compose"]
    assert mailbox.closed


def test_a_passing_failure_sends_the_capture_back_to_the_queue(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    capture = accepted(db, world, make, item={"rest_id": "AAMk-1"})
    busy = Mailbox(
        error=TemporarilyUnavailable("Microsoft Graph is busy.", retry_after=7)
    )

    with pytest.raises(RetryLater) as waiting:
        process_capture(sessions, capture.id, lambda session, user_id: busy)

    assert waiting.value.delay == 7
    db.refresh(capture)
    assert capture.status is CaptureStatus.QUEUED
    assert capture.reason == "Waiting to try again: Microsoft Graph is busy."
    assert capture.queued_at > utcnow() + timedelta(seconds=5)


def test_a_capture_that_keeps_failing_is_given_up_with_its_reason(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    capture = accepted(db, world, make, item={"rest_id": "AAMk-1"})
    busy = Mailbox(error=TemporarilyUnavailable("Microsoft Graph is busy."))

    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(RetryLater):
            process_capture(sessions, capture.id, lambda session, user_id: busy)
    final = process_capture(sessions, capture.id, lambda session, user_id: busy)

    assert final is CaptureStatus.FAILED
    db.refresh(capture)
    assert (
        capture.reason
        == f"Gave up after {MAX_ATTEMPTS} attempts: Microsoft Graph is busy."
    )


def test_a_permanent_failure_is_marked_with_a_reason_a_person_can_act_on(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    capture = accepted(db, world, make, item={"rest_id": "AAMk-gone"})
    gone = Mailbox(error=NotFound("The message is no longer in your mailbox."))

    status = process_capture(sessions, capture.id, lambda session, user_id: gone)

    assert status is CaptureStatus.FAILED
    db.refresh(capture)
    assert capture.reason == "The message is no longer in your mailbox."


def test_a_user_who_lost_the_right_gets_a_failed_capture(
    db: Session, world: World, make: Factory, sessions: sessionmaker[Session]
) -> None:
    capture = accepted(db, world, make)
    admins = db.scalars(
        select(SecurityGroup).where(SecurityGroup.firm_id == make.firm_id())
    ).all()
    for group in admins:
        group.rights = [
            g for g in group.rights if g.right is not Right.ADD_EDIT_INTERACTION
        ]
    db.flush()
    db.expire_all()

    status = process_capture(sessions, capture.id, lambda session, user_id: Mailbox())

    assert status is CaptureStatus.FAILED
    db.refresh(capture)
    assert "Add/Edit Interaction" in capture.reason


# -- the sweeper -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "age", "swept"),
    [
        (CaptureStatus.QUEUED, timedelta(seconds=30), False),
        (CaptureStatus.QUEUED, timedelta(minutes=3), True),
        (CaptureStatus.PROCESSING, timedelta(minutes=3), False),
        (CaptureStatus.PROCESSING, timedelta(minutes=8), True),
        (CaptureStatus.STORED, timedelta(days=1), False),
    ],
)
def test_the_sweeper_sends_stale_captures_again(
    db: Session,
    world: World,
    make: Factory,
    queue: Any,
    status: CaptureStatus,
    age: timedelta,
    swept: bool,
) -> None:
    db.info["interactions.queue"] = queue
    capture = accepted(db, world, make)
    capture.status = status
    capture.queued_at = utcnow() - age
    db.flush()

    count = captures.sweep(db, MAX_ATTEMPTS)

    assert count == int(swept)
    if swept:
        assert capture.status is CaptureStatus.QUEUED


def test_the_sweeper_gives_up_after_the_last_attempt(
    db: Session, world: World, make: Factory
) -> None:
    capture = accepted(db, world, make)
    capture.status = CaptureStatus.PROCESSING
    capture.attempts = MAX_ATTEMPTS
    capture.queued_at = utcnow() - timedelta(hours=1)
    db.flush()

    captures.sweep(db, MAX_ATTEMPTS)

    assert capture.status is CaptureStatus.FAILED
    assert "no worker finished it" in capture.reason


# -- concurrency, on committed data ----------------------------------------------------


def test_concurrent_captures_of_one_message_store_one_interaction(
    engine: Engine, world: World
) -> None:
    sessions = make_session_factory(engine)
    actor = world.actors["admin"]
    with sessions() as session, session.begin():
        email = make_type_id(session, actor.firm_id)
        ids = [
            captures.submit_capture(
                session, actor, {"item": item(), "type_id": email, "title": "Race"}
            ).id
            for _ in range(4)
        ]

    try:
        results = process_at_once(sessions, ids)

        with sessions() as session:
            stored = session.scalars(
                select(Interaction.id).where(
                    Interaction.internet_message_id == MESSAGE_ID
                )
            ).all()
        assert sorted(r.value for r in results) == ["duplicate"] * 3 + ["stored"]
        assert len(stored) == 1
    finally:
        with sessions() as session, session.begin():
            session.execute(delete(Capture).where(Capture.id.in_(ids)))
            session.execute(
                delete(Interaction).where(Interaction.internet_message_id == MESSAGE_ID)
            )
            session.execute(
                delete(AuditEvent).where(AuditEvent.user_id == actor.user_id)
            )


def process_at_once(
    sessions: sessionmaker[Session], capture_ids: list[int]
) -> list[CaptureStatus]:
    """Process the captures in threads that all start together, as racing workers."""
    barrier = threading.Barrier(len(capture_ids))
    results: list[CaptureStatus] = []

    def run(capture_id: int) -> None:
        barrier.wait()
        results.append(process_capture(sessions, capture_id, lambda s, u: Mailbox()))

    threads = [threading.Thread(target=run, args=(i,)) for i in capture_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    return results


def make_type_id(session: Session, firm_id: int) -> int:
    from interactions.models import InteractionType

    return session.scalars(
        select(InteractionType.id).where(
            InteractionType.firm_id == firm_id, InteractionType.display_name == "Email"
        )
    ).one()
