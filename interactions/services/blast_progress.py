"""A Blast Email's progress, read from its recipients' resends, and retrying the
recipients whose message failed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, NotFound
from interactions.models import (
    FINAL_RESEND_STATUSES,
    Blast,
    BlastRecipient,
    Resend,
    ResendStatus,
    Right,
)
from interactions.services import audit, resends
from interactions.services.access import Actor, get_owned, require_right


def get_blast(session: Session, actor: Actor, blast_id: int) -> Blast:
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    return get_owned(session, Blast, blast_id, actor)


def recent_blasts(session: Session, actor: Actor, limit: int = 10) -> list[Blast]:
    """The actor's latest blasts, newest first."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    return list(
        session.scalars(
            select(Blast)
            .where(Blast.firm_id == actor.firm_id, Blast.sender_id == actor.user_id)
            .order_by(Blast.created_at.desc(), Blast.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class RecipientState:
    recipient: BlastRecipient
    #: None when its resend is gone (its interaction was deleted).
    status: ResendStatus | None
    reason: str

    @property
    def label(self) -> str:
        if self.status is None:
            return "Not sent: its interaction was deleted"
        return resends.STATUS_LABELS[self.status]

    @property
    def can_retry(self) -> bool:
        return (
            self.status is ResendStatus.FAILED
            and self.recipient.interaction_id is not None
        )


@dataclass(frozen=True)
class Progress:
    blast: Blast
    recipients: list[RecipientState]

    @property
    def total(self) -> int:
        return len(self.recipients)

    @property
    def sent(self) -> int:
        return self._count(ResendStatus.SENT)

    @property
    def failed(self) -> int:
        return sum(
            1 for r in self.recipients if r.status in (ResendStatus.FAILED, None)
        )

    @property
    def waiting(self) -> int:
        return self.total - self.sent - self.failed

    @property
    def is_finished(self) -> bool:
        return self.waiting == 0

    def _count(self, status: ResendStatus) -> int:
        return sum(1 for r in self.recipients if r.status is status)


def progress(session: Session, actor: Actor, blast_id: int) -> Progress:
    """Each recipient with the state of its latest resend."""
    blast = get_blast(session, actor, blast_id)
    rows = session.execute(
        select(BlastRecipient, Resend.status, Resend.reason)
        .outerjoin(Resend, Resend.id == BlastRecipient.resend_id)
        .where(BlastRecipient.blast_id == blast.id)
        .order_by(BlastRecipient.id)
    ).all()
    return Progress(
        blast,
        [
            RecipientState(recipient, status, reason or "")
            for recipient, status, reason in rows
        ],
    )


def retry_recipient(
    session: Session, actor: Actor, blast_id: int, recipient_id: int
) -> Resend:
    """Send a failed recipient's message again, as a new resend of its interaction.

    Only the sender retries: the message goes from their mailbox. Asked twice (a
    double click), the second finds the retry the first made.
    """
    blast = get_blast(session, actor, blast_id)
    recipient = next((r for r in blast.recipients if r.id == recipient_id), None)
    if recipient is None:
        raise NotFound(f"No recipient of this blast has the id {recipient_id}.")
    if blast.sender_id != actor.user_id:
        raise Conflict(
            "Only the person who sent this blast can retry it: it goes from their "
            "mailbox."
        )
    if recipient.interaction_id is None:
        raise Conflict(
            "This recipient's interaction was deleted; it cannot be sent again."
        )

    current = session.get(Resend, recipient.resend_id) if recipient.resend_id else None
    if current is not None and current.status is not ResendStatus.FAILED:
        if current.status in FINAL_RESEND_STATUSES:
            raise Conflict(
                f"The email to {recipient.address} was sent; there is nothing to retry."
            )
        return current

    retry = resends.request_resend(
        session,
        actor,
        recipient.interaction_id,
        request_key=f"blast-{blast.id}-{recipient.id}-after-{recipient.resend_id}",
    )
    recipient.resend_id = retry.id
    session.flush()
    audit.record(
        session,
        actor,
        "retry",
        "blast",
        blast.id,
        details={"recipient_id": recipient.id, "resend_id": retry.id},
    )
    return retry
