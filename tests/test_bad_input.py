"""Bad input through the real pipeline: the capture API, then the worker's processing
(and the .eml import for whole MIME messages). Each case ends stored, cleaned or
cut with a stated reason, or refused with a clear one: never an unhandled error,
and in bounded time and memory. Run on PostgreSQL too, which refuses NUL
characters and text that is not valid UTF-8.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from interactions.db import make_session_factory
from interactions.mail.limits import (
    MAX_BODY_TEXT_CHARS,
    MAX_RECIPIENTS,
    MAX_SUBJECT_CHARS,
)
from interactions.models import AuditEvent, Capture, CaptureStatus, Interaction
from interactions.services import captures, imports
from interactions.services.capture_processing import process_capture
from tests.browsing import Browser
from tests.conftest import ApiClient, Factory, World
from tests.test_captures import (
    Mailbox,
    capture_body,
    item,
    make_type_id,
    process_at_once,
)

pytestmark = pytest.mark.badinput

MB = 1024 * 1024


@dataclass
class Outcome:
    """What the API answered, and what the worker made of the capture."""

    answer: Any
    capture: Capture | None
    interaction: Interaction | None


def through_the_pipeline(
    api: ApiClient,
    make: Factory,
    db: Session,
    sessions: sessionmaker[Session],
    mailbox: Mailbox | None = None,
    **item_values: Any,
) -> Outcome:
    body = capture_body(make, item=item(**item_values))
    answer = api.post("/api/v1/captures", body)
    if answer.status_code != 202:
        return Outcome(answer, None, None)

    capture = db.get_one(Capture, answer.json["id"])
    if capture.status is CaptureStatus.QUEUED:
        process_capture(sessions, capture.id, lambda s, u: mailbox or Mailbox())
    db.expire_all()
    capture = db.get_one(Capture, answer.json["id"])
    interaction = (
        db.get(Interaction, capture.interaction_id) if capture.interaction_id else None
    )
    return Outcome(answer, capture, interaction)


def eml(headers: str, body: str = "Hello.") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body).encode()


# -- size ------------------------------------------------------------------------------


def test_a_request_over_the_apis_cap_is_refused_with_a_clear_413(
    api: ApiClient, make: Factory, db: Session
) -> None:
    """A 33 MB capture: 413 saying how large a request may be; nothing stored."""
    body = capture_body(make, item=item(body_text="x" * (33 * MB)))

    answer = api.call(
        "POST",
        "/api/v1/captures",
        data=json.dumps(body),
        content_type="application/json",
    )

    assert answer.status_code == 413
    assert answer.json["error"]["message"] == (
        "The request is larger than 32 MB, the most the API takes."
    )
    assert db.scalar(select(Capture.id)) is None


def test_a_25_mb_message_is_read_in_bounded_time_and_memory_and_cut_with_a_reason(
    db: Session, world: World
) -> None:
    """A 25 MB .eml: read in under 20 s and 10x its size in memory, its body cut."""
    line = "Census line: plan 401(k), 1,204 participants, deferral 6%.\n"
    raw = eml(
        "From: Dana <dana@northwind.test>\nTo: admin@acme.test\nSubject: Big\n"
        "Message-ID: <big@northwind.test>\nDate: Mon, 30 Nov 2026 10:00:00 +0000\n"
        "Content-Type: text/plain; charset=utf-8",
        line * (25 * MB // len(line)),
    )

    tracemalloc.start()
    started = time.perf_counter()
    draft = imports.read_file(db, world.actors["admin"], "big.eml", raw)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert elapsed < 20
    assert peak < 10 * len(raw)
    assert len(draft.message.body_text) <= MAX_BODY_TEXT_CHARS
    assert draft.message.is_truncated
    assert any("was cut" in note for note in draft.message.defects)


def test_a_100_kb_subject_is_cut_to_the_title_with_a_reason(
    api: ApiClient, make: Factory, db: Session, sessions: sessionmaker[Session]
) -> None:
    """A 100 KB subject: stored, cut to a title's 500 characters, and the capture
    says so."""
    subject = "Census " * (100 * 1024 // 7)
    done = through_the_pipeline(
        api, make, db, sessions, subject=subject, body_html="<p>Census.</p>"
    )

    assert done.interaction is not None, done.answer.json
    assert done.capture is not None and done.capture.status is CaptureStatus.STORED
    assert done.capture.reason == (
        f"The subject was longer than {MAX_SUBJECT_CHARS} characters and was cut."
    )


def test_a_100_kb_title_typed_in_is_refused_with_a_clear_422(
    api: ApiClient, make: Factory
) -> None:
    answer = api.post("/api/v1/captures", capture_body(make, title="T" * 100_000))

    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "title"


def test_5000_recipients_are_stored_up_to_the_cap_in_bounded_time(
    api: ApiClient, make: Factory, db: Session, sessions: sessionmaker[Session]
) -> None:
    """5,000 recipients: the first 1,000 are participants, the cut is noted."""
    to = [{"address": f"p{n}@northwind.test", "name": f"P {n}"} for n in range(5000)]

    started = time.perf_counter()
    done = through_the_pipeline(api, make, db, sessions, to=to, cc=[])
    elapsed = time.perf_counter() - started

    assert done.interaction is not None, done.answer.json
    roles = [p.role for p in done.interaction.participants]
    assert roles.count("To") == MAX_RECIPIENTS
    assert elapsed < 30


# -- text that is not text -------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["subject", "from_name", "to_address", "body_text", "message_id"]
)
@pytest.mark.parametrize("bad", ["\x00", "\ud800", "\udfff"], ids=["nul", "hi", "lo"])
def test_nul_and_lone_surrogates_are_cleaned_or_refused_never_a_500(
    api: ApiClient,
    make: Factory,
    db: Session,
    sessions: sessionmaker[Session],
    field: str,
    bad: str,
) -> None:
    """NUL bytes and lone surrogates in a subject, name, address, body or id."""
    values: dict[str, Any] = {
        "subject": {"subject": f"Cen{bad}sus"},
        "from_name": {"from": {"address": "dana@northwind.test", "name": f"Da{bad}na"}},
        "to_address": {"to": [{"address": f"pay{bad}roll@northwind.test"}]},
        "body_text": {"body_html": None, "body_text": f"Body {bad} text"},
        "message_id": {"internet_message_id": f"<id{bad}x@northwind.test>"},
    }[field]

    done = through_the_pipeline(api, make, db, sessions, **values)

    assert done.answer.status_code in (202, 422), done.answer.json
    if done.answer.status_code == 422:
        assert done.answer.json["error"]["message"]
        return
    assert done.capture is not None
    assert done.capture.status is CaptureStatus.STORED, done.capture.reason
    assert done.interaction is not None
    stored = [
        done.interaction.title,
        done.interaction.body_text,
        done.interaction.internet_message_id or "",
        *(f"{p.address} {p.display_name}" for p in done.interaction.participants),
    ]
    assert not any(bad in value for value in stored)


BIDI = "\u202eevil.exe\u202c Dana"
EMOJI = "Dana 🎉👩🏽‍💼 Rivera"


def test_bidi_and_emoji_names_are_stored_as_given_and_shown_escaped(
    api: ApiClient,
    make: Factory,
    db: Session,
    sessions: sessionmaker[Session],
    visitor: Browser,
) -> None:
    plan = make.plan(make.client())
    body = capture_body(
        make,
        item=item(
            subject=f"{EMOJI} <b>census</b>",
            **{"from": {"address": "dana@northwind.test", "name": BIDI}},
            to=[{"address": "emoji@northwind.test", "name": EMOJI}],
        ),
        title=f"{EMOJI} <b>census</b>",
        links=[{"record_type": "plan", "record_id": plan.id}],
    )
    answer = api.post("/api/v1/captures", body)
    process_capture(sessions, answer.json["id"], lambda s, u: Mailbox())
    db.expire_all()
    interaction_id = db.get_one(Capture, answer.json["id"]).interaction_id
    assert interaction_id is not None
    interaction = db.get_one(Interaction, interaction_id)
    visitor.sign_in("admin")

    grid = visitor.get(f"/records/plan/{plan.id}")
    page = visitor.get(f"/interactions/{interaction_id}")

    assert {p.display_name for p in interaction.participants} >= {BIDI, EMOJI}
    assert (grid.status_code, page.status_code) == (200, 200)
    for shown in (grid.text, page.text):
        assert EMOJI in shown
        assert "<b>census</b>" not in shown and "&lt;b&gt;census" in shown


# -- the same message id ---------------------------------------------------------------


def test_the_same_message_id_with_a_different_body_is_flagged_not_dropped(
    api: ApiClient, make: Factory, db: Session, sessions: sessionmaker[Session]
) -> None:
    """Same id, another body: a duplicate flagged with a reason naming the first."""
    first = through_the_pipeline(api, make, db, sessions)
    second = through_the_pipeline(
        api, make, db, sessions, body_html="<p>Census attached, corrected.</p>"
    )

    assert first.interaction is not None and second.capture is not None
    shown = api.get(f"/api/v1/captures/{second.capture.id}").json
    assert shown["status"] == "duplicate"
    assert shown["has_different_body"] is True
    assert shown["reason"].startswith(
        f"Same message id as interaction {first.interaction.id} but a different body"
    )


def test_the_same_message_id_with_the_same_body_is_a_plain_duplicate(
    api: ApiClient, make: Factory, db: Session, sessions: sessionmaker[Session]
) -> None:
    through_the_pipeline(api, make, db, sessions)
    again = through_the_pipeline(
        api, make, db, sessions, body_html="<p>Census   attached.</p>\r\n"
    )

    assert again.capture is not None
    shown = api.get(f"/api/v1/captures/{again.capture.id}").json
    assert (shown["status"], shown["has_different_body"]) == ("duplicate", False)
    assert shown["reason"] == "This message was already logged."


def test_a_different_body_read_from_the_mailbox_is_flagged_by_the_worker(
    api: ApiClient,
    make: Factory,
    db: Session,
    sessions: sessionmaker[Session],
    visitor: Browser,
) -> None:
    """The pane sent no body: the worker reads it, compares, and flags it."""
    first = through_the_pipeline(api, make, db, sessions)
    from_mailbox = Mailbox(
        {
            "internetMessageId": item()["internet_message_id"],
            "subject": "2026 census file",
            "body": {"contentType": "text", "content": "Another census entirely."},
            "hasAttachments": False,
        }
    )
    second = through_the_pipeline(
        api, make, db, sessions, from_mailbox, body_html=None, attachments=[]
    )

    assert first.interaction is not None and second.capture is not None
    assert second.capture.status is CaptureStatus.DUPLICATE
    assert second.capture.has_different_body
    assert from_mailbox.calls  # it was read from the mailbox to be compared
    visitor.sign_in("admin")
    health = visitor.get("/captures").text
    assert "Duplicate, with a different body" in health
    assert f"Same message id as interaction {first.interaction.id}" in health


# -- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 01 Jan 0000 10:00:00 +0000",
        "Fri, 31 Dec 9999 23:59:59 +0000",
        "the day after tomorrow",
        "Mon, 30 Nov 2026 10:00:00 +9999",
        "",
    ],
    ids=["year-0", "year-9999", "garbage", "tz-9999", "empty"],
)
def test_a_bad_date_gives_a_defect_and_no_date_never_an_exception(
    db: Session, world: World, date: str
) -> None:
    raw = eml(
        "From: Dana <dana@northwind.test>\nTo: admin@acme.test\nSubject: Dates\n"
        f"Message-ID: <date@northwind.test>\nDate: {date}"
    )

    draft = imports.read_file(db, world.actors["admin"], "dates.eml", raw)

    assert draft.message.sent_at is None
    assert draft.message.defects or not date  # no date at all is no defect


@pytest.mark.parametrize(
    "sent_at", ["0000-01-01T00:00:00Z", "garbage", "2026-11-30T10:00:00+99:99"]
)
def test_a_bad_date_from_the_pane_is_refused_with_a_clear_422(
    api: ApiClient, make: Factory, sent_at: str
) -> None:
    answer = api.post(
        "/api/v1/captures", capture_body(make, item=item(sent_at=sent_at))
    )

    assert answer.status_code == 422
    assert answer.json["error"]["field"] == "item.sent_at"


def test_a_date_far_ahead_from_the_pane_falls_back_to_when_it_was_captured(
    api: ApiClient, make: Factory, db: Session, sessions: sessionmaker[Session]
) -> None:
    done = through_the_pipeline(
        api, make, db, sessions, sent_at="9999-12-31T23:59:59+00:00"
    )

    assert done.interaction is not None and done.capture is not None
    assert done.interaction.occurred_at.year < 9999
    assert done.interaction.occurred_at == done.capture.created_at


def test_racing_captures_of_one_id_with_two_bodies_store_one_and_flag_the_others(
    engine: Engine, world: World
) -> None:
    """Four workers at once, two bodies: one stored, the other body's flagged."""
    sessions = make_session_factory(engine)
    actor = world.actors["admin"]
    message_id = "<race-two-bodies@northwind.test>"
    bodies = ["<p>First body.</p>", "<p>Second body.</p>"] * 2
    with sessions() as session, session.begin():
        email = make_type_id(session, actor.firm_id)
        ids = [
            captures.submit_capture(
                session,
                actor,
                {
                    "item": item(internet_message_id=message_id, body_html=body),
                    "type_id": email,
                    "title": "Race",
                },
            ).id
            for body in bodies
        ]
    try:
        process_at_once(sessions, ids)

        with sessions() as session:
            done = session.scalars(select(Capture).where(Capture.id.in_(ids))).all()
            stored = session.scalars(
                select(Interaction).where(Interaction.internet_message_id == message_id)
            ).one()
            assert stored is not None
            winner = next(c.id for c in done if c.status is CaptureStatus.STORED)
        winner_body = bodies[ids.index(winner)]
        statuses = sorted(c.status.value for c in done)
        flagged = {c.id for c in done if c.has_different_body}
        other_body = {
            capture_id
            for capture_id, body in zip(ids, bodies, strict=True)
            if body != winner_body
        }
        assert statuses == ["duplicate"] * 3 + ["stored"]
        assert flagged == other_body and len(flagged) == 2
    finally:
        with sessions() as session, session.begin():
            session.execute(delete(Capture).where(Capture.id.in_(ids)))
            session.execute(
                delete(Interaction).where(Interaction.internet_message_id == message_id)
            )
            session.execute(
                delete(AuditEvent).where(AuditEvent.user_id == actor.user_id)
            )
