"""Writes to interactions: create, edit, delete, links and participants.

Every function checks the actor's tier and rights, refuses edits of interactions the
system made, flushes, and writes an audit event. None of them commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from interactions.errors import Conflict, Invalid, NotFound
from interactions.mail import sanitize_html
from interactions.models import (
    Contact,
    Interaction,
    InteractionType,
    Link,
    Participant,
    Right,
    Source,
    User,
)
from interactions.models._types import utcnow
from interactions.services import audit
from interactions.services.access import Actor, get_owned, require_right
from interactions.services.records import RecordRef, require_linkable

TITLE_MAX = 500
#: Sources whose interactions may use the system-only types.
SYSTEM_SOURCES = frozenset({Source.BLAST_EMAIL, Source.SECURE_FILE_EXCHANGE})
READ_ONLY = (
    "Interactions created by Blast Email or Secure File Exchange cannot be edited."
)


@dataclass(frozen=True)
class InteractionFields:
    """The slider's fields; on an edit, None leaves a field as it is."""

    type_id: int | None = None
    title: str | None = None
    occurred_at: datetime | None = None
    duration_minutes: int | None = None
    body_text: str | None = None
    body_html: str | None = None


@dataclass(frozen=True)
class ParticipantFields:
    role: str
    contact_id: int | None = None
    user_id: int | None = None
    address: str | None = None
    display_name: str = ""


@dataclass(frozen=True)
class MessageOrigin:
    """Where an interaction came from, when it was not typed in by hand."""

    source: Source = Source.MANUAL
    internet_message_id: str | None = None
    conversation_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    body_hash: str | None = None


def build_interaction(
    session: Session,
    actor: Actor,
    fields: InteractionFields,
    links: Sequence[RecordRef] = (),
    participants: Sequence[ParticipantFields] = (),
    origin: MessageOrigin = MessageOrigin(),
) -> Interaction:
    """A new interaction checked against every rule, not yet in the session."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    if fields.type_id is None:
        raise Invalid("Type is required.", "type_id")

    interaction_type = _new_type(session, actor, fields.type_id, origin.source)
    interaction = Interaction(
        firm_id=actor.firm_id,
        type=interaction_type,
        title=_title(fields.title),
        occurred_at=fields.occurred_at or utcnow(),
        duration_minutes=_duration(fields.duration_minutes),
        body_text=fields.body_text or "",
        body_html=_html(fields.body_html),
        source=origin.source,
        internet_message_id=origin.internet_message_id,
        conversation_id=origin.conversation_id,
        attachments=origin.attachments,
        body_hash=origin.body_hash,
        created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
    )
    for ref in dict.fromkeys(links):
        require_linkable(session, actor, ref)
        interaction.links.append(_link(interaction, ref))

    # The session keeps a loaded object only while something refers to it: the
    # people are held here, so that each participant's check finds them loaded.
    _people = _load_people(session, actor, participants)
    for participant in participants:
        interaction.participants.append(
            _participant(session, actor, interaction_type, participant)
        )

    return interaction


def create_interaction(
    session: Session,
    actor: Actor,
    fields: InteractionFields,
    links: Sequence[RecordRef] = (),
    participants: Sequence[ParticipantFields] = (),
    origin: MessageOrigin = MessageOrigin(),
) -> Interaction:
    interaction = build_interaction(session, actor, fields, links, participants, origin)
    session.add(interaction)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "interaction",
        interaction.id,
        details={"source": origin.source.value},
    )

    return interaction


def update_interaction(
    session: Session, actor: Actor, interaction_id: int, fields: InteractionFields
) -> Interaction:
    interaction = _editable(session, actor, interaction_id)
    changed = []
    if fields.type_id is not None and fields.type_id != interaction.type_id:
        interaction.type = _new_type(session, actor, fields.type_id, interaction.source)
        changed.append("type")

    if fields.title is not None:
        interaction.title = _title(fields.title)
        changed.append("title")

    if fields.occurred_at is not None:
        interaction.occurred_at = fields.occurred_at
        session.execute(
            update(Link)
            .where(Link.interaction_id == interaction.id)
            .values(occurred_at=fields.occurred_at)
        )
        changed.append("occurred_at")

    for name in ("duration_minutes", "body_text", "body_html"):
        value = getattr(fields, name)
        if value is not None:
            if name == "duration_minutes":
                value = _duration(value)
            elif name == "body_html":
                value = _html(value)
            setattr(interaction, name, value)
            changed.append(name)

    interaction.updated_by_id = actor.user_id
    interaction.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "update",
        "interaction",
        interaction.id,
        details={"fields": changed},
    )

    return interaction


def delete_interaction(session: Session, actor: Actor, interaction_id: int) -> None:
    require_right(actor, Right.DELETE_INTERACTION)
    interaction = get_owned(session, Interaction, interaction_id, actor)
    session.delete(interaction)
    session.flush()
    audit.record(
        session,
        actor,
        "delete",
        "interaction",
        interaction_id,
        details={"title": interaction.title},
    )


def add_link(
    session: Session, actor: Actor, interaction_id: int, ref: RecordRef
) -> Link:
    interaction = _editable(session, actor, interaction_id)
    require_linkable(session, actor, ref)
    existing = _find_link(interaction, ref)
    if existing is not None:
        return existing

    link = _link(interaction, ref)
    interaction.links.append(link)
    session.flush()
    audit.record(
        session, actor, "link", "interaction", interaction.id, details=_ref_details(ref)
    )

    return link


def remove_link(
    session: Session, actor: Actor, interaction_id: int, ref: RecordRef
) -> None:
    interaction = _editable(session, actor, interaction_id)
    link = _find_link(interaction, ref)
    if link is None:
        raise NotFound("The interaction is not linked to that record.")

    interaction.links.remove(link)
    session.flush()
    audit.record(
        session,
        actor,
        "unlink",
        "interaction",
        interaction.id,
        details=_ref_details(ref),
    )


def add_participant(
    session: Session, actor: Actor, interaction_id: int, fields: ParticipantFields
) -> Participant:
    interaction = _editable(session, actor, interaction_id)
    participant = _participant(session, actor, interaction.type, fields)
    interaction.participants.append(participant)
    session.flush()
    audit.record(
        session,
        actor,
        "add_participant",
        "interaction",
        interaction.id,
        details={"participant_id": participant.id},
    )

    return participant


def update_participant(
    session: Session,
    actor: Actor,
    interaction_id: int,
    participant_id: int,
    fields: ParticipantFields,
) -> Participant:
    interaction = _editable(session, actor, interaction_id)
    participant = _owned_participant(interaction, participant_id)
    replacement = _participant(session, actor, interaction.type, fields)
    for name in ("role", "contact_id", "user_id", "address", "display_name"):
        setattr(participant, name, getattr(replacement, name))

    session.flush()
    audit.record(
        session,
        actor,
        "update_participant",
        "interaction",
        interaction.id,
        details={"participant_id": participant.id},
    )

    return participant


def delete_participant(
    session: Session, actor: Actor, interaction_id: int, participant_id: int
) -> None:
    interaction = _editable(session, actor, interaction_id)
    interaction.participants.remove(_owned_participant(interaction, participant_id))
    session.flush()
    audit.record(
        session,
        actor,
        "delete_participant",
        "interaction",
        interaction.id,
        details={"participant_id": participant_id},
    )


def _editable(session: Session, actor: Actor, interaction_id: int) -> Interaction:
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    interaction = get_owned(session, Interaction, interaction_id, actor)
    if not interaction.is_editable:
        raise Conflict(READ_ONLY)

    return interaction


def _new_type(
    session: Session, actor: Actor, type_id: int, source: Source
) -> InteractionType:
    """A type an interaction may take now: active, and system types for the system."""
    try:
        interaction_type = get_owned(session, InteractionType, type_id, actor)
    except NotFound:
        raise Invalid("Choose a type from the list.", "type_id") from None

    if not interaction_type.is_active:
        raise Invalid(
            f"The type {interaction_type.display_name} is inactive; "
            "choose an active type.",
            "type_id",
        )

    if interaction_type.is_system and source not in SYSTEM_SOURCES:
        raise Invalid(
            f"{interaction_type.base_name.value} interactions are made by sending one; "
            "choose another type.",
            "type_id",
        )

    return interaction_type


def _title(title: str | None) -> str:
    cleaned = (title or "").strip()
    if not cleaned:
        raise Invalid("Title is required.", "title")

    if len(cleaned) > TITLE_MAX:
        raise Invalid(f"Title must be at most {TITLE_MAX} characters.", "title")

    return cleaned


def _html(html: str | None) -> str:
    """A body's HTML as it may be shown: sanitized, whoever wrote it."""
    return sanitize_html(html) if html else ""


def _duration(minutes: int | None) -> int | None:
    if minutes is not None and not 0 <= minutes <= 7 * 24 * 60:
        raise Invalid(
            "Duration must be between 0 minutes and a week.", "duration_minutes"
        )

    return minutes


def _link(interaction: Interaction, ref: RecordRef) -> Link:
    return Link(
        firm_id=interaction.firm_id,
        record_type=ref.record_type,
        record_id=ref.record_id,
        occurred_at=interaction.occurred_at,
    )


def _find_link(interaction: Interaction, ref: RecordRef) -> Link | None:
    return next(
        (
            link
            for link in interaction.links
            if link.record_type == ref.record_type and link.record_id == ref.record_id
        ),
        None,
    )


def _ref_details(ref: RecordRef) -> dict[str, Any]:
    return {"record_type": ref.record_type.value, "record_id": ref.record_id}


def _owned_participant(interaction: Interaction, participant_id: int) -> Participant:
    for participant in interaction.participants:
        if participant.id == participant_id:
            return participant

    raise NotFound(f"No participant has the id {participant_id}.")


def _participant(
    session: Session,
    actor: Actor,
    interaction_type: InteractionType,
    fields: ParticipantFields,
) -> Participant:
    role = _role(interaction_type, fields.role)
    name = fields.display_name.strip()
    address = _address(fields.address)
    if fields.contact_id is not None:
        contact = _participant_record(
            session, actor, Contact, fields.contact_id, "contact_id"
        )
        name = name or contact.name
    if fields.user_id is not None:
        user = _participant_record(session, actor, User, fields.user_id, "user_id")
        name = name or user.name
    if fields.contact_id is None and fields.user_id is None and address is None:
        raise Invalid(
            "A participant needs a contact, an employee or an address.", "address"
        )

    return Participant(
        firm_id=actor.firm_id,
        role=role,
        contact_id=fields.contact_id,
        user_id=fields.user_id,
        address=address,
        display_name=name or address or "",
    )


def _load_people(
    session: Session, actor: Actor, participants: Sequence[ParticipantFields]
) -> list[Contact | User]:
    """The firm's contacts and employees these participants name: a statement for
    each kind instead of one or more for each participant."""
    contact_ids = {p.contact_id for p in participants if p.contact_id is not None}
    user_ids = {p.user_id for p in participants if p.user_id is not None}
    people: list[Contact | User] = []
    if contact_ids:
        people += session.scalars(
            select(Contact)
            .where(Contact.id.in_(contact_ids), Contact.firm_id == actor.firm_id)
            .options(lazyload(Contact.emails), lazyload(Contact.roles))
        )
    if user_ids:
        people += session.scalars(
            select(User)
            .where(User.id.in_(user_ids), User.firm_id == actor.firm_id)
            .options(lazyload(User.security_groups))
        )

    return people


def _participant_record(
    session: Session,
    actor: Actor,
    model: type[Contact] | type[User],
    record_id: int,
    field_name: str,
) -> Any:
    try:
        return get_owned(session, model, record_id, actor)
    except NotFound as error:
        raise Invalid(error.message, field_name) from None


def _role(interaction_type: InteractionType, role: str) -> str:
    wanted = role.strip()
    if not interaction_type.roles:
        if not wanted:
            raise Invalid("Role is required.", "role")
        return wanted

    for offered in interaction_type.roles:
        if offered.casefold() == wanted.casefold():
            return offered

    raise Invalid(f"Role must be one of: {', '.join(interaction_type.roles)}.", "role")


def _address(address: str | None) -> str | None:
    if address is None or not address.strip():
        return None

    cleaned = address.strip().lower()
    local, at, domain = cleaned.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in cleaned):
        raise Invalid(f"{address!r} is not an email address.", "address")

    return cleaned
