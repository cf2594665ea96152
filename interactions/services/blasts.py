"""Blast Email: choosing the recipients, the preview, the send, its progress, retries.

Sending makes, for each recipient, a Blast Email interaction (From the sender, To
the contact, linked to the contact and its plan) and asks the resend pipeline to
send it, so that each recipient gets one message from the sender's own mailbox.
All of it happens in the one transaction of the request; the worker sends after
the commit. A recipient's progress is the state of its latest resend.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid, NotFound
from interactions.mail import merge
from interactions.mail.html import html_to_text
from interactions.models import (
    FINAL_RESEND_STATUSES,
    BaseName,
    Blast,
    BlastRecipient,
    BlastTemplate,
    Client,
    Contact,
    ContactRole,
    InteractionType,
    Plan,
    RecordType,
    Resend,
    ResendStatus,
    Right,
    Source,
)
from interactions.models._types import utcnow
from interactions.services import audit, resends
from interactions.services.access import Actor, get_owned, require_right
from interactions.services.blast_templates import get_template
from interactions.services.interaction_types import email_roles
from interactions.services.interactions import (
    TITLE_MAX,
    InteractionFields,
    MessageOrigin,
    ParticipantFields,
    create_interaction,
)
from interactions.services.records import RecordRef

#: The most contacts one blast goes to; a larger audience is several blasts.
BLAST_MAX = 500
#: Recipients the preview shows their message for.
PREVIEW_COUNT = 3


class Audience(enum.StrEnum):
    PLAN = "plan"
    CLIENT = "client"
    HAND = "hand"


@dataclass(frozen=True)
class Selection:
    """Whom to send to: a plan's contacts, a client's, or contacts chosen by hand."""

    audience: Audience
    plan_id: int | None = None
    client_id: int | None = None
    contact_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Chosen:
    contact: Contact
    address: str
    plan: Plan | None
    client: Client | None


@dataclass(frozen=True)
class Skipped:
    contact: Contact
    reason: str


@dataclass(frozen=True)
class Recipients:
    chosen: list[Chosen]
    skipped: list[Skipped]
    #: The plan or client chosen, by name, when the audience is one.
    source_name: str = ""


@dataclass(frozen=True)
class Sample:
    """One recipient's message, as it will be sent."""

    recipient: Chosen
    subject: str
    body_html: str


@dataclass(frozen=True)
class Preview:
    template: BlastTemplate
    recipients: Recipients
    samples: list[Sample] = field(default_factory=list)


def parse_audience(value: str) -> Audience:
    try:
        return Audience(value)
    except ValueError:
        raise Invalid(
            "Choose whom to send to: a plan, a client, or contacts.", "audience"
        ) from None


def select_recipients(
    session: Session,
    actor: Actor,
    selection: Selection,
    template: BlastTemplate | None = None,
) -> Recipients:
    """Each contact once, with its first address; the others skipped with why."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    contacts, source_name = _audience(session, actor, selection)
    needs = set(
        merge.fields_in(f"{template.subject} {template.body}" if template else "")
    )
    chosen: list[Chosen] = []
    skipped: list[Skipped] = []
    for contact, plan, client in contacts:
        reason = _unreachable(contact, plan, client, needs)
        if reason:
            skipped.append(Skipped(contact, reason))
        else:
            chosen.append(Chosen(contact, contact.emails[0].address, plan, client))

    return Recipients(chosen, skipped, source_name)


_Contacts = list[tuple[Contact, Plan | None, Client | None]]


def _audience(
    session: Session, actor: Actor, selection: Selection
) -> tuple[_Contacts, str]:
    if selection.audience is Audience.PLAN:
        if selection.plan_id is None:
            raise Invalid("Choose the plan whose contacts get the email.", "plan_id")
        plan = get_owned(session, Plan, selection.plan_id, actor)
        client = session.get_one(Client, plan.client_id)
        found = _with_roles(session, actor, ContactRole.plan_id == plan.id)
        return [(contact, plan, client) for contact in found], plan.name

    if selection.audience is Audience.CLIENT:
        if selection.client_id is None:
            raise Invalid(
                "Choose the client whose contacts get the email.", "client_id"
            )
        client = get_owned(session, Client, selection.client_id, actor)
        return _client_contacts(session, actor, client), client.name

    if not selection.contact_ids:
        raise Invalid("Choose at least one contact.", "contact_ids")
    contacts = [
        get_owned(session, Contact, contact_id, actor)
        for contact_id in dict.fromkeys(selection.contact_ids)
    ]
    return [(contact, None, None) for contact in contacts], ""


def _with_roles(
    session: Session, actor: Actor, where: ColumnElement[bool]
) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(
                Contact.firm_id == actor.firm_id,
                Contact.id.in_(select(ContactRole.contact_id).where(where)),
            )
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
        )
    )


def _client_contacts(session: Session, actor: Actor, client: Client) -> _Contacts:
    """The client's contacts, each with the first of the client's plans it is at."""
    plans = list(
        session.scalars(
            select(Plan).where(Plan.client_id == client.id).order_by(Plan.name, Plan.id)
        )
    )
    plan_ids = [plan.id for plan in plans]
    found = _with_roles(
        session,
        actor,
        or_(ContactRole.client_id == client.id, ContactRole.plan_id.in_(plan_ids)),
    )
    result: _Contacts = []
    for contact in found:
        at = {role.plan_id for role in contact.roles}
        plan = next((plan for plan in plans if plan.id in at), None)
        result.append((contact, plan, client))

    return result


def _unreachable(
    contact: Contact, plan: Plan | None, client: Client | None, needs: set[str]
) -> str:
    if not contact.emails:
        return "No email address."
    if plan is None and "plan.name" in needs:
        return "No plan to fill in {{plan.name}}."
    if client is None and "client.name" in needs:
        return "No client to fill in {{client.name}}."
    return ""


def merge_values(actor: Actor, chosen: Chosen) -> dict[str, str]:
    contact = chosen.contact
    return {
        "contact.first_name": contact.first_name,
        "contact.last_name": contact.last_name,
        "contact.name": contact.name,
        "plan.name": chosen.plan.name if chosen.plan else "",
        "client.name": chosen.client.name if chosen.client else "",
        "sender.name": actor.name,
    }


def render(
    actor: Actor, subject: str, body: str, is_html: bool, chosen: Chosen
) -> tuple[str, str]:
    """The subject and the HTML body one recipient gets."""
    values = merge_values(actor, chosen)
    title = merge.fill_subject(subject, values)
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"
    return title, merge.fill_body(body, is_html, values)


def preview(
    session: Session, actor: Actor, template_id: int, selection: Selection
) -> Preview:
    """Who gets the email, who does not and why, and the first few messages."""
    template = _sendable(session, actor, template_id)
    recipients = select_recipients(session, actor, selection, template)
    samples = [
        Sample(
            chosen,
            *render(actor, template.subject, template.body, template.is_html, chosen),
        )
        for chosen in recipients.chosen[:PREVIEW_COUNT]
    ]
    return Preview(template, recipients, samples)


def _sendable(session: Session, actor: Actor, template_id: int) -> BlastTemplate:
    try:
        template = get_template(session, actor, template_id)
    except NotFound:
        raise Invalid("Choose a template from the list.", "template_id") from None
    if not template.is_active:
        raise Invalid(
            f"The template {template.name} is inactive; choose an active one.",
            "template_id",
        )
    return template


def send_blast(
    session: Session,
    actor: Actor,
    template_id: int,
    selection: Selection,
    request_key: str | None = None,
) -> Blast:
    """Make each recipient's interaction and ask for it to be sent; the same
    request key again (a double click) gives the blast it made."""
    key = (request_key or "").strip() or None
    if key is not None and len(key) > resends.REQUEST_KEY_MAX:
        raise Invalid(
            f"The request key is longer than {resends.REQUEST_KEY_MAX} characters.",
            "request_key",
        )
    if key is not None:
        same = session.scalar(
            select(Blast).where(
                Blast.firm_id == actor.firm_id,
                Blast.sender_id == actor.user_id,
                Blast.request_key == key,
            )
        )
        if same is not None:
            return same

    found = preview(session, actor, template_id, selection)
    chosen = found.recipients.chosen
    if not chosen:
        raise Conflict("None of the chosen contacts can be sent this email.")
    if len(chosen) > BLAST_MAX:
        raise Conflict(
            f"A blast goes to at most {BLAST_MAX} contacts; this one has "
            f"{len(chosen)}. Choose fewer."
        )

    template = found.template
    blast = Blast(
        firm_id=actor.firm_id,
        sender_id=actor.user_id,
        template_id=template.id,
        subject=template.subject,
        body=template.body,
        is_html=template.is_html,
        plan_id=selection.plan_id if selection.audience is Audience.PLAN else None,
        client_id=(
            selection.client_id if selection.audience is Audience.CLIENT else None
        ),
        request_key=key,
    )
    session.add(blast)
    session.flush()
    blast_type = _blast_type(session, actor)
    for recipient in chosen:
        _send_one(session, actor, blast, blast_type, recipient)

    audit.record(
        session,
        actor,
        "send",
        "blast",
        blast.id,
        details={"template_id": template.id, "recipients": len(chosen)},
    )
    return blast


def _blast_type(session: Session, actor: Actor) -> InteractionType:
    found = session.scalar(
        select(InteractionType)
        .where(
            InteractionType.firm_id == actor.firm_id,
            InteractionType.base_name == BaseName.BLAST_EMAIL,
            InteractionType.is_active,
        )
        .order_by(InteractionType.id)
        .limit(1)
    )
    if found is None:
        raise Conflict(
            "The firm has no active Blast Email interaction type; "
            "add one in Maintenance > List Values > Interaction."
        )
    return found


def _send_one(
    session: Session,
    actor: Actor,
    blast: Blast,
    blast_type: InteractionType,
    chosen: Chosen,
) -> BlastRecipient:
    subject, body_html = render(actor, blast.subject, blast.body, blast.is_html, chosen)
    from_role, to_role, _ = email_roles(blast_type)
    links = [RecordRef(RecordType.CONTACT, chosen.contact.id)]
    if chosen.plan is not None:
        links.append(RecordRef(RecordType.PLAN, chosen.plan.id))
    interaction = create_interaction(
        session,
        actor,
        InteractionFields(
            type_id=blast_type.id,
            title=subject,
            occurred_at=utcnow(),
            body_text=html_to_text(body_html),
            body_html=body_html,
        ),
        links=links,
        participants=[
            ParticipantFields(role=from_role, user_id=actor.user_id),
            ParticipantFields(
                role=to_role, contact_id=chosen.contact.id, address=chosen.address
            ),
        ],
        origin=MessageOrigin(source=Source.BLAST_EMAIL),
    )
    recipient = BlastRecipient(
        contact_id=chosen.contact.id,
        name=chosen.contact.name,
        address=chosen.address,
        plan_id=chosen.plan.id if chosen.plan else None,
        interaction_id=interaction.id,
    )
    blast.recipients.append(recipient)
    session.flush()
    resend = resends.request_resend(
        session, actor, interaction.id, request_key=f"blast-{blast.id}-{recipient.id}"
    )
    recipient.resend_id = resend.id
    return recipient


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
