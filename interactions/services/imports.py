"""Importing an email file dropped on an Interactions tab: a draft, then a capture.

Reading the file gives a draft for the slider (Type Email, Title from the subject,
the participants matched to contacts, every candidate shown where an address has
several) and says whether the message is logged already. Saving the draft submits a
capture like the add-in's, so one pipeline stores, deduplicates and reports every
message whatever its door.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from sqlalchemy.orm import Session

from interactions.errors import Invalid
from interactions.mail import NormalizedMessage, UnreadableMessage, from_mime, from_msg
from interactions.mail.mime import OLE_SIGNATURE
from interactions.models import BaseName, Capture, InteractionType, Right, Source
from interactions.services import captures, interaction_types
from interactions.services.access import Actor, require_right
from interactions.services.capture_processing import MessagePerson, people_of
from interactions.services.interactions import ParticipantFields
from interactions.services.records import RecordRef

#: What Outlook's own drag, and its Save As, produce.
EXTENSIONS = frozenset({".eml", ".msg"})


@dataclass(frozen=True)
class ImportDraft:
    """A dropped file as the slider shows it before the person saves."""

    file_name: str
    message: NormalizedMessage
    email_type: InteractionType | None
    people: list[MessagePerson]
    #: The interaction that logged this message already, if one did.
    logged_interaction_id: int | None

    @property
    def item(self) -> dict[str, Any]:
        """The message in the shape the add-in sends, for the capture."""
        message = self.message

        def person(address: str, name: str) -> dict[str, str]:
            return {"address": address, "name": name}

        return {
            "internet_message_id": message.internet_message_id,
            "conversation_id": message.conversation_id,
            "subject": message.subject,
            "from": person(message.sender.address, message.sender.display_name)
            if message.sender
            else None,
            "to": [person(p.address, p.display_name) for p in message.to],
            "cc": [person(p.address, p.display_name) for p in message.cc],
            "sent_at": message.sent_at.isoformat() if message.sent_at else None,
            "body_html": message.body_html,
            "body_text": message.body_text,
            "attachments": [vars(a) for a in message.attachments],
        }


def read_file(
    session: Session, actor: Actor, file_name: str, raw: bytes
) -> ImportDraft:
    """The draft of a dropped .eml or .msg file, or Invalid saying why it cannot be
    read; nothing is stored yet."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    if PurePath(file_name).suffix.lower() not in EXTENSIONS:
        raise Invalid(
            f"“{file_name}” is not an email file. Drop a message from Outlook, or a "
            "saved .eml or .msg file.",
            "file",
        )

    # Outlook's .msg is an OLE compound file whatever its name says.
    read = from_msg if raw.startswith(OLE_SIGNATURE) else from_mime
    try:
        message = read(raw)
    except UnreadableMessage as unreadable:
        reason = unreadable.reason
        raise Invalid(f"“{file_name}” cannot be read: {reason}", "file") from None

    email_type = _email_type(session, actor)
    return ImportDraft(
        file_name=file_name,
        message=message,
        email_type=email_type,
        people=people_of(session, actor.firm_id, email_type, message),
        logged_interaction_id=captures.logged_interaction(
            session, actor.firm_id, message.internet_message_id
        ),
    )


def submit_import(
    session: Session,
    actor: Actor,
    item: dict[str, Any],
    type_id: int | None,
    title: str,
    links: list[RecordRef],
    participants: list[ParticipantFields],
) -> Capture:
    """Log the imported message as the person confirmed it, through the capture
    pipeline: checked now, stored by a worker, a duplicate if logged meanwhile."""
    payload = {
        "source": Source.FILE_IMPORT.value,
        "item": item,
        "type_id": type_id,
        "title": title,
        "links": [
            {"record_type": ref.record_type.value, "record_id": ref.record_id}
            for ref in links
        ],
        "participants": [vars(p) for p in participants],
    }
    return captures.submit_capture(session, actor, payload)


def _email_type(session: Session, actor: Actor) -> InteractionType | None:
    """The firm's first active Email type, which an imported message takes."""
    return next(
        (
            t
            for t in interaction_types.list_types(session, actor, active_only=True)
            if t.base_name is BaseName.EMAIL
        ),
        None,
    )
