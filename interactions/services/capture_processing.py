"""The worker's side of a capture: read the message, deduplicate, store, mark.

Idempotent: a capture already final is left alone, so a redelivered task or one the
sweeper sent again does nothing twice. Two captures of one message store one
interaction: the unique key (firm, internet message id) decides the race.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from interactions.db import one_statement, transaction
from interactions.errors import DomainError, TemporarilyUnavailable
from interactions.mail import NormalizedMessage, from_graph
from interactions.models import (
    FINAL_STATUSES,
    Capture,
    CaptureStatus,
    InteractionType,
)
from interactions.models._types import utcnow
from interactions.services.access import Actor, actor_of_user
from interactions.services.captures import (
    CaptureDraft,
    duplicate_of,
    logged_interaction,
    type_and_logged,
)
from interactions.services.contacts import ContactMatch, match_addresses
from interactions.services.interaction_types import email_roles
from interactions.services.interactions import (
    InteractionFields,
    MessageOrigin,
    ParticipantFields,
    create_interaction,
)

log = logging.getLogger(__name__)

#: Attempts before a capture that keeps meeting passing failures is given up on.
MAX_ATTEMPTS = 6


class Mailbox(Protocol):
    """The user's mailbox, as the worker reads it (Graph, through the gateway)."""

    def get_message(self, rest_id: str) -> dict[str, Any]: ...

    def list_attachments(self, rest_id: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


MailboxFor = Callable[[Session, int], Mailbox]


class RetryLater(Exception):
    """The capture went back to the queue; try again after ``delay`` seconds."""

    def __init__(self, reason: str, delay: float | None) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True)
class Claimed:
    firm_id: int
    user_id: int
    attempts: int
    created_at: datetime
    draft: CaptureDraft


def process_capture(
    sessions: sessionmaker[Session], capture_id: int, mailbox_for: MailboxFor
) -> CaptureStatus | None:
    """Take a capture to a final state, or back to the queue with RetryLater."""
    claimed = _claim(sessions, capture_id)
    if claimed is None:
        return None

    if claimed.attempts > MAX_ATTEMPTS:
        # Each try so far ended without a word: its worker process died under it
        # (killed, out of memory), and the broker handed the task on. A message
        # that kills every worker is given up on, or it would loop for ever.
        reason = (
            f"Gave up after {MAX_ATTEMPTS} attempts: the worker stopped each time "
            "while processing it."
        )
        with transaction(sessions) as session:
            _finish(session, capture_id, CaptureStatus.FAILED, reason)
        return CaptureStatus.FAILED

    mailbox = _OpenOnce(mailbox_for, claimed.user_id)
    try:
        with transaction(sessions) as session:
            message = read_message(claimed.draft, lambda: mailbox(session))
        return _store_once(sessions, capture_id, claimed, message)
    except OperationalError as error:
        # The database itself failed (restarted, locked, unreachable): pass it on
        # as a passing failure; if even that cannot be written, the sweeper will
        # find the capture left in processing.
        log.warning("capture %s met a database error: %s", capture_id, error)
        unavailable = TemporarilyUnavailable("The database did not answer.")
        return _postpone(sessions, capture_id, claimed.attempts, unavailable)
    except TemporarilyUnavailable as error:
        return _postpone(sessions, capture_id, claimed.attempts, error)
    except DomainError as error:
        with transaction(sessions) as session:
            _finish(session, capture_id, CaptureStatus.FAILED, error.message)
        return CaptureStatus.FAILED
    finally:
        mailbox.close()


class _OpenOnce:
    """The user's mailbox, opened at the first need of it, and then kept."""

    def __init__(self, mailbox_for: MailboxFor, user_id: int) -> None:
        self._mailbox_for = mailbox_for
        self._user_id = user_id
        self._mailbox: Mailbox | None = None

    def __call__(self, session: Session) -> Mailbox:
        if self._mailbox is None:
            self._mailbox = self._mailbox_for(session, self._user_id)

        return self._mailbox

    def close(self) -> None:
        if self._mailbox is not None:
            self._mailbox.close()


# Built once, as every task runs them. Claiming counts the attempt and returns what
# the rest of the task needs, in one statement.
_CLAIM = (
    update(Capture)
    .where(
        Capture.id == bindparam("capture_id"),
        Capture.status.not_in(FINAL_STATUSES),
    )
    .values(
        status=CaptureStatus.PROCESSING,
        attempts=Capture.attempts + 1,
        updated_at=bindparam("now"),
        queued_at=bindparam("now"),
    )
    .returning(
        Capture.firm_id,
        Capture.user_id,
        Capture.attempts,
        Capture.created_at,
        Capture.payload,
    )
    .execution_options(synchronize_session=False)
)
# Only a capture still in processing is marked: when a task ran twice at once
# (handed on past the broker's visibility timeout), the one that stored it wins,
# and the other's finding of a duplicate leaves it stored.
_MARK = (
    update(Capture)
    .where(
        Capture.id == bindparam("capture_id"),
        Capture.status == CaptureStatus.PROCESSING,
    )
    .values(
        status=bindparam("new_status"),
        reason=bindparam("new_reason"),
        interaction_id=bindparam("new_interaction_id"),
        has_different_body=bindparam("new_different_body"),
        updated_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)


def _claim(sessions: sessionmaker[Session], capture_id: int) -> Claimed | None:
    """Mark the capture processing and count the attempt, committed on its own: a
    worker that dies after this leaves a trace the sweeper acts on."""
    with one_statement(sessions) as session:
        claimed = session.execute(
            _CLAIM, {"capture_id": capture_id, "now": utcnow()}
        ).one_or_none()
        if claimed is None:
            return None

        firm_id, user_id, attempts, created_at, payload = claimed
        return Claimed(firm_id, user_id, attempts, created_at, CaptureDraft.of(payload))


def read_message(
    draft: CaptureDraft, mailbox: Callable[[], Mailbox]
) -> NormalizedMessage:
    """The message from what the pane sent, completed from the mailbox if needed."""
    rest_id = draft.item.get("rest_id")
    if draft.needs_message:
        if not rest_id:
            raise DomainError("The add-in sent neither the message nor its id.")
        graph_message = mailbox().get_message(rest_id)
    else:
        graph_message = draft.graph_message()

    if draft.needs_attachments and graph_message.get("hasAttachments", True):
        graph_message["attachments"] = mailbox().list_attachments(str(rest_id))

    return from_graph(graph_message)


def _store_once(
    sessions: sessionmaker[Session],
    capture_id: int,
    claimed: Claimed,
    message: NormalizedMessage,
) -> CaptureStatus:
    """Store the message, or mark the capture a duplicate of what stored it first."""
    message_id = message.internet_message_id or claimed.draft.internet_message_id
    try:
        with transaction(sessions) as session:
            return _store(session, capture_id, claimed, message, message_id)
    except IntegrityError:
        # Another worker stored the same message between our check and our insert:
        # the unique key refused ours, and this transaction was undone whole.
        with transaction(sessions) as session:
            winner = logged_interaction(session, claimed.firm_id, message_id)
            if winner is None:
                raise
            return _mark_duplicate(session, capture_id, winner, message.body_hash)


def _store(
    session: Session,
    capture_id: int,
    claimed: Claimed,
    message: NormalizedMessage,
    message_id: str | None,
) -> CaptureStatus:
    draft = claimed.draft
    interaction_type, existing = type_and_logged(
        session, claimed.firm_id, draft.type_id, message_id
    )
    if existing is not None:
        return _mark_duplicate(session, capture_id, existing, message.body_hash)

    actor = actor_of_user(session, claimed.user_id)
    interaction = create_interaction(
        session,
        actor,
        InteractionFields(
            type_id=draft.type_id,
            title=draft.title or message.subject,
            occurred_at=message.sent_at or claimed.created_at,
            body_text=message.body_text,
            body_html=message.body_html,
        ),
        links=draft.links,
        participants=draft.participants
        or _participants(session, actor, interaction_type, message),
        origin=MessageOrigin(
            source=draft.source,
            internet_message_id=message_id,
            conversation_id=message.conversation_id
            or draft.item.get("conversation_id"),
            attachments=[vars(a) for a in message.attachments],
            body_hash=message.body_hash,
        ),
    )
    # What was odd in the message and how it was repaired, for whoever looks.
    notes = " ".join(message.defects)
    _mark(session, capture_id, CaptureStatus.STORED, notes, interaction.id)
    log.info("capture %s stored as interaction %s", capture_id, interaction.id)
    return CaptureStatus.STORED


def _mark_duplicate(
    session: Session, capture_id: int, interaction_id: int, body_hash: str
) -> CaptureStatus:
    reason, is_different = duplicate_of(session, interaction_id, body_hash)
    _mark(
        session,
        capture_id,
        CaptureStatus.DUPLICATE,
        reason,
        interaction_id,
        has_different_body=is_different,
    )
    if is_different:
        log.warning(
            "capture %s has the message id of interaction %s, with another body",
            capture_id,
            interaction_id,
        )
    else:
        log.info("capture %s duplicates interaction %s", capture_id, interaction_id)
    return CaptureStatus.DUPLICATE


def _mark(
    session: Session,
    capture_id: int,
    status: CaptureStatus,
    reason: str,
    interaction_id: int,
    has_different_body: bool = False,
) -> None:
    session.execute(
        _MARK,
        {
            "capture_id": capture_id,
            "new_status": status,
            "new_reason": reason,
            "new_interaction_id": interaction_id,
            "new_different_body": has_different_body,
            "now": utcnow(),
        },
    )


@dataclass(frozen=True)
class MessagePerson:
    """Someone on a message, in the role the type gives them, with every contact
    their address belongs to."""

    role: str
    address: str
    display_name: str
    candidates: list[ContactMatch]

    def as_participant(self) -> ParticipantFields:
        """Matched to the contact when exactly one has the address."""
        only = self.candidates[0].contact_id if len(self.candidates) == 1 else None
        return ParticipantFields(
            role=self.role,
            contact_id=only,
            address=self.address or None,
            display_name=self.display_name,
        )


def people_of(
    session: Session,
    firm_id: int,
    interaction_type: InteractionType | None,
    message: NormalizedMessage,
) -> list[MessagePerson]:
    """From, To and Cc, in that order, each with the contacts of their address."""
    roles = email_roles(interaction_type)
    people = [(roles[0], message.sender)] if message.sender else []
    people += [(roles[1], person) for person in message.to]
    people += [(roles[2], person) for person in message.cc]
    matches = match_addresses(session, firm_id, [p.address for _, p in people])
    return [
        MessagePerson(
            role, person.address, person.display_name, matches.get(person.address, [])
        )
        for role, person in people
    ]


def _participants(
    session: Session,
    actor: Actor,
    interaction_type: InteractionType | None,
    message: NormalizedMessage,
) -> list[ParticipantFields]:
    return [
        person.as_participant()
        for person in people_of(session, actor.firm_id, interaction_type, message)
    ]


def _postpone(
    sessions: sessionmaker[Session],
    capture_id: int,
    attempts: int,
    error: TemporarilyUnavailable,
) -> CaptureStatus:
    with transaction(sessions) as session:
        if attempts >= MAX_ATTEMPTS:
            reason = f"Gave up after {attempts} attempts: {error.message}"
            _finish(session, capture_id, CaptureStatus.FAILED, reason)
            return CaptureStatus.FAILED

        capture = session.get_one(Capture, capture_id)
        capture.status = CaptureStatus.QUEUED
        capture.reason = f"Waiting to try again: {error.message}"
        capture.updated_at = utcnow()
        # Due again after the delay, so that the sweeper does not hurry it.
        capture.queued_at = capture.updated_at + timedelta(
            seconds=error.retry_after or 0
        )

    raise RetryLater(error.message, error.retry_after)


def _finish(
    session: Session, capture_id: int, status: CaptureStatus, reason: str
) -> None:
    capture = session.get_one(Capture, capture_id)
    capture.status = status
    capture.reason = reason
    capture.updated_at = utcnow()
    log.warning("capture %s %s: %s", capture_id, status.value, reason)
