"""The worker's side of a resend: send it once, through Graph, as the user who asked.

Each step is committed before the next call to Graph, so that a worker killed at
any point leaves a state the next one can act on safely:

- ``requested``: nothing was sent; send.
- ``sending`` found by a worker: the one before it died around the call, so this is
  treated as ``unknown``.
- ``unknown``: Graph may have accepted it (a timeout, a reset connection, a 5xx);
  the user's Sent Items is searched for the resend's header first, and only when
  the message is not there after a while is it sent again.

The mailbox's limits are kept (at most 4 concurrent requests, 30 sends a minute),
429 and 503 wait the full Retry-After, and a consent that Entra ID refuses fails the
resend with that reason and marks the user as needing to sign in again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from interactions.db import transaction
from interactions.errors import DomainError, TemporarilyUnavailable
from interactions.limiter import MailboxLimiter
from interactions.microsoft.graph import (
    GraphThrottled,
    OutgoingMessage,
    SendOutcomeUnknown,
)
from interactions.microsoft.tokens import ConsentRequired
from interactions.models import (
    FINAL_RESEND_STATUSES,
    Interaction,
    Resend,
    ResendAttempt,
    ResendStatus,
    User,
)
from interactions.models._types import utcnow
from interactions.services.capture_processing import RetryLater

log = logging.getLogger(__name__)

#: Sends tried before a resend is given up on.
MAX_SEND_ATTEMPTS = 5
#: Sent Items may lag behind an accepted send: an uncertain send is only taken for
#: lost when its message is still not there this long after it was tried.
SENT_ITEMS_LAG = timedelta(minutes=2)
#: How soon to look again when the mailbox's four request slots are all taken.
SLOT_WAIT = 2.0


class Outbox(Protocol):
    """The user's mailbox, as a resend uses it (Graph, through the gateway)."""

    def send_mail(self, message: OutgoingMessage) -> None: ...

    def find_sent(self, resend_key: str) -> bool: ...

    def close(self) -> None: ...


OutboxFor = Callable[[Session, int], Outbox]


@dataclass(frozen=True)
class _Claimed:
    user_id: int
    mailbox: str
    key: str
    uncertain: bool
    #: When the send that may have gone was tried, if it may have.
    tried_at: datetime | None


def process_resend(
    sessions: sessionmaker[Session],
    resend_id: int,
    outbox_for: OutboxFor,
    limiter: MailboxLimiter,
    now: Callable[[], datetime] = utcnow,
) -> ResendStatus | None:
    """Take a resend one step nearer sent or failed; None if it was final already.

    Raises RetryLater, with the seconds to wait, when it must be tried again.
    """
    claimed = _claim(sessions, resend_id)
    if claimed is None:
        return None

    slot = limiter.acquire(claimed.mailbox)
    if slot is None:
        raise RetryLater("The mailbox has four requests under way.", SLOT_WAIT)

    try:
        with transaction(sessions) as session:
            outbox = outbox_for(session, claimed.user_id)
        try:
            return _step(sessions, resend_id, claimed, outbox, limiter, now)
        finally:
            outbox.close()
    except ConsentRequired as refused:
        return _consent_lost(sessions, resend_id, claimed.user_id, refused, now())
    except TemporarilyUnavailable as passing:
        # Before any send: Entra ID could not give a token, Graph was busy reading.
        _note(sessions, resend_id, f"Waiting to try again: {passing.message}", now())
        raise RetryLater(passing.message, passing.retry_after) from passing
    finally:
        limiter.release(slot)


def _claim(sessions: sessionmaker[Session], resend_id: int) -> _Claimed | None:
    with transaction(sessions) as session:
        resend = session.scalar(
            select(Resend).where(Resend.id == resend_id).with_for_update()
        )
        if resend is None or resend.status in FINAL_RESEND_STATUSES:
            return None

        if resend.status is ResendStatus.SENDING:
            # The worker that set this died during its call to Graph.
            resend.status = ResendStatus.UNKNOWN
            resend.reason = "Checking Sent Items: the last try was cut short."
        last = resend.history[-1] if resend.history else None
        return _Claimed(
            user_id=resend.user_id,
            mailbox=f"{resend.firm_id}:{resend.user_id}",
            key=resend.key,
            uncertain=resend.status is ResendStatus.UNKNOWN,
            tried_at=last.started_at if last else None,
        )


def _step(
    sessions: sessionmaker[Session],
    resend_id: int,
    claimed: _Claimed,
    outbox: Outbox,
    limiter: MailboxLimiter,
    now: Callable[[], datetime],
) -> ResendStatus:
    if claimed.uncertain:
        if outbox.find_sent(claimed.key):
            return _finish(sessions, resend_id, ResendStatus.SENT, "found", now())

        waited = now() - (claimed.tried_at or now())
        if waited < SENT_ITEMS_LAG:
            wait = (SENT_ITEMS_LAG - waited).total_seconds()
            _note(sessions, resend_id, "Checking Sent Items again shortly.", now())
            raise RetryLater("Not in Sent Items yet.", wait)

    wait = limiter.reserve_send(claimed.mailbox)
    if wait > 0:
        _note(
            sessions,
            resend_id,
            "Waiting for the mailbox's limit of 30 sends a minute.",
            now() + timedelta(seconds=wait),
        )
        raise RetryLater("The mailbox's sending limit is reached.", wait)

    message = _begin(sessions, resend_id, now())
    if isinstance(message, str):
        reason = f"Gave up after {MAX_SEND_ATTEMPTS} tries; the last: {message}"
        return _finish(
            sessions, resend_id, ResendStatus.FAILED, "gave_up", now(), reason
        )

    try:
        outbox.send_mail(message)
    except GraphThrottled as throttled:
        _after(sessions, resend_id, ResendStatus.REQUESTED, "throttled", throttled, now)
        raise RetryLater(throttled.message, throttled.retry_after) from throttled
    except SendOutcomeUnknown as unsure:
        _after(sessions, resend_id, ResendStatus.UNKNOWN, "unknown", unsure, now)
        wait = max(unsure.retry_after or 0.0, SENT_ITEMS_LAG.total_seconds() / 4)
        raise RetryLater(unsure.message, wait) from unsure
    except ConsentRequired:
        raise
    except DomainError as refused:
        if isinstance(refused, TemporarilyUnavailable):
            _after(sessions, resend_id, ResendStatus.UNKNOWN, "unknown", refused, now)
            raise RetryLater(refused.message, refused.retry_after) from refused
        return _finish(
            sessions, resend_id, ResendStatus.FAILED, "refused", now(), refused.message
        )

    return _finish(sessions, resend_id, ResendStatus.SENT, "accepted", now())


def _begin(
    sessions: sessionmaker[Session], resend_id: int, moment: datetime
) -> OutgoingMessage | str:
    """Mark the resend as sending, with a new attempt, committed before the call;
    when it has had its tries, how the last one ended instead."""
    with transaction(sessions) as session:
        resend = session.get_one(Resend, resend_id)
        if resend.attempts >= MAX_SEND_ATTEMPTS:
            last = resend.history[-1] if resend.history else None
            return (last.detail if last else "") or "no answer from Graph."

        interaction = (
            session.get(Interaction, resend.interaction_id)
            if resend.interaction_id
            else None
        )
        resend.status = ResendStatus.SENDING
        resend.attempts += 1
        resend.reason = ""
        resend.updated_at = resend.queued_at = moment
        resend.history.append(ResendAttempt(number=resend.attempts, started_at=moment))

        def people(kind: str) -> list[tuple[str, str]]:
            return [
                (r["address"], r.get("name", ""))
                for r in resend.recipients
                if r.get("kind") == kind
            ]

        return OutgoingMessage(
            subject=resend.subject,
            body_html=_body_html(interaction),
            to=people("to"),
            cc=people("cc"),
            resend_key=resend.key,
        )


def _body_html(interaction: Interaction | None) -> str:
    """The stored, sanitized HTML; a body kept only as text, as preformatted text."""
    if interaction is None:
        return ""
    if interaction.body_html:
        return interaction.body_html
    return f"<pre>{escape(interaction.body_text)}</pre>"


def _after(
    sessions: sessionmaker[Session],
    resend_id: int,
    status: ResendStatus,
    outcome: str,
    error: TemporarilyUnavailable,
    now: Callable[[], datetime],
) -> None:
    """Record how an attempt ended when it must be tried, or checked, again."""
    with transaction(sessions) as session:
        resend = session.get_one(Resend, resend_id)
        attempt = resend.history[-1]
        attempt.finished_at = now()
        attempt.outcome = outcome
        attempt.detail = error.message
        resend.status = status
        resend.reason = (
            f"Checking Sent Items before any new try: {error.message}"
            if status is ResendStatus.UNKNOWN
            else f"Waiting to try again: {error.message}"
        )
        resend.updated_at = now()
        resend.queued_at = now() + timedelta(seconds=error.retry_after or 0)


def _finish(
    sessions: sessionmaker[Session],
    resend_id: int,
    status: ResendStatus,
    outcome: str,
    moment: datetime,
    reason: str = "",
) -> ResendStatus:
    with transaction(sessions) as session:
        resend = session.get_one(Resend, resend_id)
        if resend.history and resend.history[-1].finished_at is None:
            attempt = resend.history[-1]
        else:
            attempt = ResendAttempt(number=resend.attempts, started_at=moment)
            resend.history.append(attempt)
        attempt.finished_at = moment
        attempt.outcome = outcome
        attempt.detail = reason
        resend.status = status
        resend.reason = reason
        resend.updated_at = moment
        if status is ResendStatus.SENT:
            resend.sent_at = moment
    log.info("resend %s %s (%s)", resend_id, status.value, outcome)
    return status


def _note(
    sessions: sessionmaker[Session], resend_id: int, reason: str, due: datetime
) -> None:
    with transaction(sessions) as session:
        resend = session.get_one(Resend, resend_id)
        resend.reason = reason
        resend.updated_at = utcnow()
        # Due again then, so that the sweeper does not hurry it.
        resend.queued_at = due


def _consent_lost(
    sessions: sessionmaker[Session],
    resend_id: int,
    user_id: int,
    refused: ConsentRequired,
    moment: datetime,
) -> ResendStatus:
    """Fail with the reason, and mark the user: only signing in again helps."""
    with transaction(sessions) as session:
        session.get_one(User, user_id).mailbox_consent_lost_at = moment
    reason = (
        "Microsoft no longer lets Interactions send from your mailbox: sign in to "
        "Interactions again, then resend."
    )
    log.info("resend %s failed: consent lost (%s)", resend_id, refused.code)
    return _finish(sessions, resend_id, ResendStatus.FAILED, "refused", moment, reason)
