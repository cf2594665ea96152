"""Captures from the add-in: accept, look up, and read their state.

Accepting a capture checks everything the person chose (type, title, links,
participants) at once, so the pane can say what to fix; it stores the request as it
came and queues its processing after the commit. The message itself is read and
stored by the worker (``capture_processing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select
from sqlalchemy.orm import Session, make_transient_to_detached

from interactions.errors import Conflict
from interactions.mail import from_graph
from interactions.models import (
    Capture,
    CaptureStatus,
    Interaction,
    InteractionType,
    Right,
    Source,
    User,
)
from interactions.models._types import utcnow
from interactions.queue import enqueue
from interactions.services import audit
from interactions.services.access import (
    Actor,
    get_owned,
    require_interactions,
    require_right,
)
from interactions.services.interactions import (
    InteractionFields,
    ParticipantFields,
    build_interaction,
)
from interactions.services.records import RecordRef, parse_record_type

PROCESS_TASK = "interactions.process_capture"


@dataclass(frozen=True)
class CaptureDraft:
    """What the person confirmed in the pane, read from a capture's payload."""

    type_id: int | None
    title: str | None
    links: list[RecordRef] = field(default_factory=list)
    participants: list[ParticipantFields] = field(default_factory=list)
    item: dict[str, Any] = field(default_factory=dict)
    source: Source = Source.OUTLOOK_ADDIN

    @classmethod
    def of(cls, payload: dict[str, Any]) -> CaptureDraft:
        return cls(
            type_id=payload.get("type_id"),
            title=payload.get("title"),
            links=[
                RecordRef(parse_record_type(link["record_type"]), link["record_id"])
                for link in payload.get("links", [])
            ],
            participants=[
                ParticipantFields(**p) for p in payload.get("participants", [])
            ],
            item=payload.get("item", {}),
            source=Source(payload.get("source", Source.OUTLOOK_ADDIN)),
        )

    @property
    def needs_message(self) -> bool:
        """The pane sent no body: the worker reads the message from the mailbox."""
        return self.item.get("body_html") is None and self.item.get("body_text") is None

    @property
    def needs_attachments(self) -> bool:
        """The pane sent no list of attachments, and the mailbox can give one."""
        return "attachments" not in self.item and bool(self.item.get("rest_id"))

    @property
    def internet_message_id(self) -> str | None:
        value = self.item.get("internet_message_id")
        return value.strip() if isinstance(value, str) and value.strip() else None

    def graph_message(self) -> dict[str, Any]:
        """The pane's reading of the item, in Graph's shape, so one parser serves
        both."""
        item = self.item

        def recipient(person: dict[str, Any]) -> dict[str, Any]:
            return {
                "emailAddress": {
                    "address": person.get("address", ""),
                    "name": person.get("name", ""),
                }
            }

        html = item.get("body_html")
        return {
            "internetMessageId": item.get("internet_message_id"),
            "conversationId": item.get("conversation_id"),
            "subject": item.get("subject", ""),
            "from": recipient(item["from"]) if item.get("from") else None,
            "toRecipients": [recipient(p) for p in item.get("to", [])],
            "ccRecipients": [recipient(p) for p in item.get("cc", [])],
            "sentDateTime": item.get("sent_at"),
            "body": {
                "contentType": "html" if html is not None else "text",
                "content": html if html is not None else item.get("body_text", ""),
            },
            "attachments": [
                {
                    "name": a.get("name", ""),
                    "contentType": a.get("content_type", ""),
                    "size": a.get("size", 0),
                    "isInline": a.get("is_inline", False),
                }
                for a in item.get("attachments", [])
            ],
        }


@dataclass(frozen=True)
class Lookup:
    interaction_id: int | None
    capture: Capture | None


def submit_capture(session: Session, actor: Actor, payload: dict[str, Any]) -> Capture:
    """Accept a capture: refuse what would fail, else store it and queue it."""
    draft = CaptureDraft.of(payload)
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    # The session keeps a loaded object only while something refers to it: the type
    # is held here, so that build_interaction's checks find it without a statement.
    _chosen_type, existing = type_and_logged(
        session, actor.firm_id, draft.type_id, draft.internet_message_id
    )
    build_interaction(
        session,
        actor,
        InteractionFields(type_id=draft.type_id, title=draft.title),
        draft.links,
        draft.participants,
    )
    values: dict[str, Any] = {
        "firm_id": actor.firm_id,
        "user_id": actor.user_id,
        "internet_message_id": draft.internet_message_id,
    }
    if existing is not None and not draft.needs_message:
        # Logged already: a duplicate at once, flagged if its body is another one.
        # Without the body here, the worker reads it from the mailbox and decides.
        reason, different = duplicate_of(
            session, existing, from_graph(draft.graph_message()).body_hash
        )
        values.update(
            status=CaptureStatus.DUPLICATE,
            interaction_id=existing,
            reason=reason,
            has_different_body=different,
        )

    # The capture is its own record of who asked, when and for what; the audit
    # trail gets the interaction's creation, by this user, when a worker stores it.
    capture = _inserted_capture(session, payload, values)
    if capture.status is CaptureStatus.QUEUED:
        enqueue(session, PROCESS_TASK, capture.id)

    return capture


# Every column but the payload, which the caller has: what the insert returns.
_CAPTURE = cast(Table, Capture.__table__)
_INSERT_CAPTURE = insert(_CAPTURE).returning(
    *(column for column in _CAPTURE.c if column.key != "payload")
)


def _inserted_capture(
    session: Session, payload: dict[str, Any], values: dict[str, Any]
) -> Capture:
    """Insert the capture with one prebuilt statement, and return it loaded in the
    session as if read back: an accepted capture needs none of the unit of work's
    bookkeeping, which is a good part of what a capture request costs."""
    row = session.execute(_INSERT_CAPTURE, {**values, "payload": payload}).one()
    capture = Capture(payload=payload, **row._mapping)
    make_transient_to_detached(capture)
    session.add(capture)
    return capture


# Built once: every capture accepted, and every one stored, runs it. A missing
# message id compares as NULL, which matches no interaction.
_TYPE_AND_LOGGED = select(
    InteractionType,
    select(Interaction.id)
    .where(
        Interaction.firm_id == bindparam("firm_id"),
        Interaction.internet_message_id == bindparam("message_id"),
    )
    .scalar_subquery(),
).where(
    InteractionType.id == bindparam("type_id"),
    InteractionType.firm_id == bindparam("firm_id"),
)


def type_and_logged(
    session: Session,
    firm_id: int,
    type_id: int | None,
    internet_message_id: str | None,
) -> tuple[InteractionType | None, int | None]:
    """The firm's type with this id, and the interaction that logged the message
    already, in one statement; (None, None) when the firm has no such type."""
    if type_id is None:
        return None, None

    row = session.execute(
        _TYPE_AND_LOGGED,
        {"firm_id": firm_id, "type_id": type_id, "message_id": internet_message_id},
    ).first()
    if row is None:
        return None, None

    return row[0], row[1]


ALREADY_LOGGED = "This message was already logged."


def duplicate_of(
    session: Session, interaction_id: int, body_hash: str | None
) -> tuple[str, bool]:
    """The reason a capture of a logged message id is marked a duplicate with, and
    whether its body differs from the one the interaction was stored from (an
    interaction stored before bodies were compared counts as the same)."""
    logged_hash = session.scalar(
        select(Interaction.body_hash).where(Interaction.id == interaction_id)
    )
    if body_hash is None or logged_hash is None or body_hash == logged_hash:
        return ALREADY_LOGGED, False

    return (
        f"Same message id as interaction {interaction_id} but a different body; "
        "it was not stored: compare it with the logged one.",
        True,
    )


def get_capture(session: Session, actor: Actor, capture_id: int) -> Capture:
    require_interactions(actor)
    return get_owned(session, Capture, capture_id, actor)


def lookup(session: Session, actor: Actor, internet_message_id: str) -> Lookup:
    """Whether a message is logged already, and its latest capture if any."""
    require_interactions(actor)
    message_id = internet_message_id.strip()
    capture = session.scalar(
        select(Capture)
        .where(
            Capture.firm_id == actor.firm_id, Capture.internet_message_id == message_id
        )
        .order_by(Capture.id.desc())
        .limit(1)
    )
    return Lookup(logged_interaction(session, actor.firm_id, message_id), capture)


def logged_interaction(
    session: Session, firm_id: int, internet_message_id: str | None
) -> int | None:
    if not internet_message_id:
        return None

    return session.scalar(
        select(Interaction.id).where(
            Interaction.firm_id == firm_id,
            Interaction.internet_message_id == internet_message_id,
        )
    )


#: How far back the capture health page looks.
HEALTH_WINDOW = timedelta(days=30)
HEALTH_LIMIT = 200
UNFINISHED = (CaptureStatus.QUEUED, CaptureStatus.PROCESSING, CaptureStatus.FAILED)


def unfinished_captures(session: Session, actor: Actor) -> list[tuple[Capture, str]]:
    """The firm's recent captures that failed or are not stored yet, and the
    duplicates with a different body, newest first, each with who sent it."""
    require_interactions(actor)
    rows = session.execute(
        select(Capture, User.name)
        .join(User, User.id == Capture.user_id)
        .where(
            Capture.firm_id == actor.firm_id,
            Capture.created_at >= utcnow() - HEALTH_WINDOW,
            or_(Capture.status.in_(UNFINISHED), Capture.has_different_body),
        )
        .order_by(Capture.created_at.desc())
        .limit(HEALTH_LIMIT)
    )
    return [(capture, name) for capture, name in rows]


def retry_capture(session: Session, actor: Actor, capture_id: int) -> Capture:
    """A person asks again for a failed capture: with a fresh count of attempts."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    capture = get_owned(session, Capture, capture_id, actor)
    if capture.status is not CaptureStatus.FAILED:
        raise Conflict("Only a failed capture can be retried; this one is not.")

    capture.attempts = 0
    requeue(session, capture, "Sent to a worker again on request.")
    audit.record(session, actor, "retry", "capture", capture.id)
    return capture


def requeue(session: Session, capture: Capture, reason: str = "") -> None:
    """Ask a worker again; used by retries and by the sweeper."""
    capture.status = CaptureStatus.QUEUED
    capture.reason = reason
    capture.queued_at = utcnow()
    capture.updated_at = capture.queued_at
    enqueue(session, PROCESS_TASK, capture.id)


#: A queued capture is sent again when no worker took it for this long.
QUEUED_GRACE = timedelta(minutes=2)
#: A capture in processing for this long lost its worker (the task limit is 5 min).
PROCESSING_GRACE = timedelta(minutes=7)


def sweep(
    session: Session,
    max_attempts: int,
    queued_grace: timedelta = QUEUED_GRACE,
    limit: int = 500,
) -> int:
    """Send again the captures whose message was lost or whose worker died."""
    now = utcnow()
    stale = session.scalars(
        select(Capture)
        .where(
            or_(
                and_(
                    Capture.status == CaptureStatus.QUEUED,
                    Capture.queued_at < now - queued_grace,
                ),
                and_(
                    Capture.status == CaptureStatus.PROCESSING,
                    Capture.queued_at < now - PROCESSING_GRACE,
                ),
            )
        )
        .order_by(Capture.queued_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for capture in stale:
        if capture.attempts >= max_attempts:
            capture.status = CaptureStatus.FAILED
            capture.reason = (
                f"Gave up after {capture.attempts} attempts: no worker finished it."
            )
            capture.updated_at = now
        else:
            requeue(session, capture, "Sent to a worker again after a delay.")

    return len(stale)
