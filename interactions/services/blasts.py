"""Blast Email: the preview of each recipient's message, and the send.

Sending makes, for each recipient, a Blast Email interaction (From the sender, To
the contact, linked to the contact and its plan) and asks the resend pipeline to
send it, so that each recipient gets one message from the sender's own mailbox.
All of it happens in the one transaction of the request; the worker sends after
the commit. A recipient's progress is the state of its latest resend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid, NotFound
from interactions.mail import merge
from interactions.mail.html import html_to_text
from interactions.models import (
    BaseName,
    Blast,
    BlastRecipient,
    BlastTemplate,
    InteractionType,
    RecordType,
    Source,
)
from interactions.models._types import utcnow
from interactions.services import audit, resends
from interactions.services.access import Actor
from interactions.services.blast_recipients import (
    Audience,
    Chosen,
    Recipients,
    Selection,
    select_recipients,
)
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
