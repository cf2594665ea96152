"""Reading a message in Microsoft Graph's JSON shape.

Graph has already decoded the MIME, so what is left is reading its fields
defensively: the pane's reading of an item arrives in this shape too, with any
field possibly missing or null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from interactions.mail.build import Draft, Person, finish, read_safely
from interactions.mail.message import (
    AttachmentInfo,
    NormalizedMessage,
    UnreadableMessage,
)


@read_safely
def from_graph(message: dict[str, Any]) -> NormalizedMessage:
    """Normalize a Graph message resource (``GET /me/messages/{id}``)."""
    if not isinstance(message, dict):
        raise UnreadableMessage(
            "Microsoft Graph returned something that is not a message."
        )

    draft = Draft()
    draft.internet_message_id = _text(message.get("internetMessageId"))
    draft.conversation_id = _text(message.get("conversationId"))
    draft.subject = _text(message.get("subject"))
    draft.sender = _person(message.get("from")) or _person(message.get("sender"))
    draft.to = _people(message.get("toRecipients"))
    draft.cc = _people(message.get("ccRecipients"))
    draft.sent_at = _date(message.get("sentDateTime"), draft)

    body = message.get("body")
    if isinstance(body, dict):
        content = _text(body.get("content"))
        if _text(body.get("contentType")).lower() == "html":
            draft.body_html = content
        else:
            draft.body_text = content

    attachments = message.get("attachments")
    if isinstance(attachments, list):
        draft.attachments = [_attachment(a) for a in attachments if isinstance(a, dict)]

    return finish(draft)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _person(recipient: object) -> Person | None:
    """(name, address) of ``{"emailAddress": {"name": ..., "address": ...}}``."""
    if not isinstance(recipient, dict):
        return None

    email_address = recipient.get("emailAddress")
    if not isinstance(email_address, dict):
        return None

    return _text(email_address.get("name")), _text(email_address.get("address"))


def _people(recipients: object) -> list[Person]:
    if not isinstance(recipients, list):
        return []

    return [person for r in recipients if (person := _person(r)) is not None]


def _date(value: object, draft: Draft) -> datetime | None:
    """Graph's ISO 8601 UTC time ("2024-05-01T09:30:00Z"); None when absent."""
    if not isinstance(value, str) or not value.strip():
        return None

    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        draft.defects.add("The date could not be read; the message has no sent time.")
        return None


def _attachment(attachment: dict[str, Any]) -> AttachmentInfo:
    size = attachment.get("size")
    return AttachmentInfo(
        name=_text(attachment.get("name")),
        content_type=_text(attachment.get("contentType")),
        size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
        is_inline=attachment.get("isInline") is True,
    )
