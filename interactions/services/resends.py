"""Resending an email interaction from the user's own mailbox: asking, following.

Asking records a resend and queues it after the commit; the worker sends it
(``resend_processing``). One click is one resend: a request key sent again (a
double click, a retried request) finds the resend it made, and while a resend of
an interaction is on its way, asking again from the same person finds that one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid
from interactions.models import (
    FINAL_RESEND_STATUSES,
    BaseName,
    Contact,
    Interaction,
    Resend,
    ResendStatus,
    Right,
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
from interactions.services.interaction_types import email_roles

RESEND_TASK = "interactions.process_resend"
#: The kinds of interaction that were emails, and so can be sent again.
RESENDABLE = frozenset({BaseName.EMAIL, BaseName.BLAST_EMAIL})
REQUEST_KEY_MAX = 100


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str
    kind: str  # "to" or "cc"


def recipients_of(session: Session, interaction: Interaction) -> list[Recipient]:
    """Whom the email went to: its To and Cc participants, each address once."""
    _, to_role, cc_role = email_roles(interaction.type)
    # To wins where the type has no Cc role of its own (Blast Email: From, To).
    kinds = {cc_role: "cc", to_role: "to"}
    found: list[Recipient] = []
    seen: set[str] = set()
    for participant in interaction.participants:
        kind = kinds.get(participant.role)
        address = participant.address or _contact_address(
            session, participant.contact_id
        )
        if kind is None or not address or address.lower() in seen:
            continue
        seen.add(address.lower())
        found.append(Recipient(address, participant.display_name, kind))

    return found


def _contact_address(session: Session, contact_id: int | None) -> str | None:
    contact = session.get(Contact, contact_id) if contact_id else None
    if contact is None or not contact.emails:
        return None
    return contact.emails[0].address


@dataclass(frozen=True)
class Resendable:
    interaction: Interaction
    recipients: list[Recipient]


def check_resendable(session: Session, actor: Actor, interaction_id: int) -> Resendable:
    """The interaction and its recipients, if it is an email this person may
    resend; else why not."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    interaction = get_owned(session, Interaction, interaction_id, actor)
    if interaction.type.base_name not in RESENDABLE:
        raise Conflict(
            f"Only emails can be resent; this interaction is a "
            f"{interaction.type.base_name.value}."
        )
    recipients = recipients_of(session, interaction)
    if not recipients:
        raise Conflict(
            "This email has no To or Cc participant with an address to send it to."
        )
    return Resendable(interaction, recipients)


def request_resend(
    session: Session, actor: Actor, interaction_id: int, request_key: str | None
) -> Resend:
    """Record a resend and queue it; the same request again gives the same one."""
    key = (request_key or "").strip() or None
    if key is not None and len(key) > REQUEST_KEY_MAX:
        raise Invalid(
            f"The request key is longer than {REQUEST_KEY_MAX} characters.",
            "request_key",
        )

    resendable = check_resendable(session, actor, interaction_id)
    interaction = resendable.interaction
    same = _same_request(session, actor, interaction.id, key)
    if same is not None:
        return same

    resend = Resend(
        firm_id=actor.firm_id,
        interaction_id=interaction.id,
        user_id=actor.user_id,
        request_key=key,
        subject=interaction.title,
        recipients=[vars(r) for r in resendable.recipients],
    )
    session.add(resend)
    session.flush()
    audit.record(
        session,
        actor,
        "resend",
        "interaction",
        interaction.id,
        details={"resend_id": resend.id, "recipients": len(resend.recipients)},
    )
    enqueue(session, RESEND_TASK, resend.id)
    return resend


def _same_request(
    session: Session, actor: Actor, interaction_id: int, key: str | None
) -> Resend | None:
    """This person's resend of the request key, or their one on its way."""
    mine = (Resend.firm_id == actor.firm_id) & (Resend.user_id == actor.user_id)
    if key is not None:
        found = session.scalar(select(Resend).where(mine, Resend.request_key == key))
        if found is not None:
            if found.interaction_id != interaction_id:
                raise Conflict("This request key was used for another interaction.")
            return found

    return session.scalar(
        select(Resend)
        .where(
            mine,
            Resend.interaction_id == interaction_id,
            Resend.status.not_in(FINAL_RESEND_STATUSES),
        )
        .order_by(Resend.id.desc())
        .limit(1)
        .with_for_update()
    )


def get_resend(session: Session, actor: Actor, resend_id: int) -> Resend:
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    return get_owned(session, Resend, resend_id, actor)


def history(
    session: Session, actor: Actor, interaction_id: int
) -> list[tuple[Resend, str]]:
    """Every resend of an interaction, newest first, each with who asked for it."""
    require_interactions(actor)
    interaction = get_owned(session, Interaction, interaction_id, actor)
    rows = session.execute(
        select(Resend, User.name)
        .join(User, User.id == Resend.user_id)
        .where(Resend.firm_id == actor.firm_id, Resend.interaction_id == interaction.id)
        .order_by(Resend.created_at.desc(), Resend.id.desc())
    )
    return [(resend, name) for resend, name in rows]


def requeue(session: Session, resend: Resend, reason: str = "") -> None:
    """Ask a worker again: the sweeper's way, and a retry's."""
    resend.reason = reason
    resend.queued_at = utcnow()
    resend.updated_at = resend.queued_at
    enqueue(session, RESEND_TASK, resend.id)


#: A resend waiting this long past its due time lost its broker message.
WAITING_GRACE = timedelta(minutes=2)
#: A resend in sending this long lost its worker (the task limit is 5 minutes).
SENDING_GRACE = timedelta(minutes=7)

STATUS_LABELS = {
    ResendStatus.REQUESTED: "Waiting to send",
    ResendStatus.SENDING: "Sending",
    ResendStatus.SENT: "Sent",
    ResendStatus.UNKNOWN: "Checking Sent Items",
    ResendStatus.FAILED: "Failed",
}


def sweep(
    session: Session, waiting_grace: timedelta = WAITING_GRACE, limit: int = 500
) -> int:
    """Send again the resends whose message was lost or whose worker died; the
    worker decides from their state what is safe (Sent Items first if unsure)."""
    now = utcnow()
    stale = session.scalars(
        select(Resend)
        .where(
            or_(
                and_(
                    Resend.status.in_((ResendStatus.REQUESTED, ResendStatus.UNKNOWN)),
                    Resend.queued_at < now - waiting_grace,
                ),
                and_(
                    Resend.status == ResendStatus.SENDING,
                    Resend.queued_at < now - SENDING_GRACE,
                ),
            )
        )
        .order_by(Resend.queued_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for resend in stale:
        requeue(session, resend, resend.reason)

    return len(stale)
