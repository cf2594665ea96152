"""Secure File Exchange: an exchange the firm's file exchange reports becomes a
non-editable interaction, once, however often the report is delivered.

The interaction is made on behalf of the employee who sent the files: they are its
From participant, the recipients its To participants (matched to contacts by
address), and it is linked to the plan the exchange was for and to the recipients'
contacts, so that it shows on their Interactions tabs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid
from interactions.models import (
    BaseName,
    FileExchangeReport,
    Firm,
    Interaction,
    InteractionType,
    Plan,
    RecordType,
    Right,
    Source,
    User,
)
from interactions.services.access import Actor
from interactions.services.contacts import match_addresses, normalize_address
from interactions.services.interaction_types import email_roles
from interactions.services.interactions import (
    InteractionFields,
    MessageOrigin,
    ParticipantFields,
    create_interaction,
)
from interactions.services.records import RecordRef


@dataclass(frozen=True)
class ExchangedFile:
    name: str
    size: int


@dataclass(frozen=True)
class ExchangeReport:
    exchange_id: str
    sender: str
    recipients: list[tuple[str, str]]
    files: list[ExchangedFile]
    sent_at: datetime
    expires_at: datetime | None = None
    plan_id: int | None = None
    subject: str = ""
    raw: dict[str, object] = field(default_factory=dict)


def record_exchange(
    session: Session, firm: Firm, report: ExchangeReport
) -> tuple[Interaction, bool]:
    """The exchange's interaction, and whether this delivery made it."""
    known = _known(session, firm.id, report.exchange_id)
    if known is not None:
        return known, False

    sender = session.scalar(
        select(User).where(
            User.firm_id == firm.id,
            func.lower(User.email) == normalize_address(report.sender),
            User.is_active,
        )
    )
    if sender is None:
        raise Invalid(
            f"{report.sender} is not an active user of {firm.name}: only the firm's "
            "own people send files through its exchange.",
            "sender",
        )
    exchange_type = session.scalar(
        select(InteractionType).where(
            InteractionType.firm_id == firm.id,
            InteractionType.base_name == BaseName.SECURE_FILE_EXCHANGE,
            InteractionType.is_active,
        )
    )
    if exchange_type is None:
        raise Conflict(
            "The firm has no active Secure File Exchange interaction type; "
            "add one in Maintenance > List Values > Interaction."
        )

    # On the sender's behalf: the exchange is theirs, whatever their rights.
    actor = Actor.of(sender, rights=frozenset({Right.ADD_EDIT_INTERACTION}))
    links = []
    if report.plan_id is not None:
        links.append(
            RecordRef(RecordType.PLAN, _plan(session, firm.id, report.plan_id))
        )
    matches = match_addresses(session, firm.id, [a for a, _ in report.recipients])
    from_role, to_role, _ = email_roles(exchange_type)
    participants = [ParticipantFields(role=from_role, user_id=sender.id)]
    for address, name in report.recipients:
        candidates = matches.get(normalize_address(address), [])
        contact_id = candidates[0].contact_id if len(candidates) == 1 else None
        participants.append(
            ParticipantFields(
                role=to_role,
                contact_id=contact_id,
                address=address,
                display_name=name,
            )
        )
        if contact_id is not None:
            links.append(RecordRef(RecordType.CONTACT, contact_id))

    try:
        with session.begin_nested():
            interaction = create_interaction(
                session,
                actor,
                InteractionFields(
                    type_id=exchange_type.id,
                    title=report.subject or _title(report.files),
                    occurred_at=report.sent_at,
                    body_text=_body(report),
                ),
                links=links,
                participants=participants,
                origin=MessageOrigin(
                    source=Source.SECURE_FILE_EXCHANGE,
                    attachments=[
                        {"name": f.name, "content_type": "", "size": f.size}
                        for f in report.files
                    ],
                ),
            )
            session.add(
                FileExchangeReport(
                    firm_id=firm.id,
                    exchange_id=report.exchange_id,
                    interaction_id=interaction.id,
                    payload=report.raw,
                )
            )
            session.flush()
    except IntegrityError:
        # The same report, delivered twice at once: the other delivery won.
        winner = _known(session, firm.id, report.exchange_id)
        if winner is None:
            raise
        return winner, False

    return interaction, True


def _known(session: Session, firm_id: int, exchange_id: str) -> Interaction | None:
    report = session.scalar(
        select(FileExchangeReport)
        .where(
            FileExchangeReport.firm_id == firm_id,
            FileExchangeReport.exchange_id == exchange_id,
        )
        .with_for_update()
    )
    if report is None:
        return None

    report.deliveries += 1
    interaction = (
        session.get(Interaction, report.interaction_id)
        if report.interaction_id
        else None
    )
    if interaction is None:
        raise Conflict(
            "This exchange was reported before and its interaction has since been "
            "deleted; it is not made again."
        )
    return interaction


def _plan(session: Session, firm_id: int, plan_id: int) -> int:
    plan = session.get(Plan, plan_id)
    if plan is None or plan.firm_id != firm_id:
        raise Invalid(f"No plan has the id {plan_id}.", "plan_id")
    return plan.id


def _title(files: list[ExchangedFile]) -> str:
    names = ", ".join(f.name for f in files[:3])
    more = f" and {len(files) - 3} more" if len(files) > 3 else ""
    return f"Secure files sent: {names}{more}"


def _body(report: ExchangeReport) -> str:
    lines = ["Sent through the firm's secure file exchange:"]
    lines += [f"- {f.name} ({f.size:,} bytes)" for f in report.files]
    if report.expires_at is not None:
        until = f"{report.expires_at:%b %d, %Y %H:%M} UTC"
        lines.append(f"The files can be downloaded until {until}.")
    lines.append("The files themselves are not kept in Interactions.")
    return "\n".join(lines)
