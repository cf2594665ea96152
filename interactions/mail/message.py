"""The one shape every captured or imported email takes before it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from interactions.errors import Invalid


class UnreadableMessage(Invalid):
    """The input is not a message that can be read at all: empty, too big, not mail.

    Everything short of that is read as well as it can be, with ``defects`` saying
    what was odd or repaired.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "message")
        self.reason = reason


@dataclass(frozen=True)
class Address:
    #: Lower-cased and stripped; shown and matched to contacts, never trusted as
    #: proof of who sent the message.
    address: str
    display_name: str = ""


@dataclass(frozen=True)
class AttachmentInfo:
    """What a person needs to know an attachment existed; never its content."""

    name: str
    content_type: str
    size: int
    is_inline: bool = False


@dataclass(frozen=True)
class NormalizedMessage:
    internet_message_id: str | None
    subject: str
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    #: Timezone-aware UTC; None when the message had no believable date.
    sent_at: datetime | None
    body_text: str
    #: Sanitized: safe to show in the viewer as it is.
    body_html: str
    attachments: list[AttachmentInfo]
    #: Human-readable notes of what was odd in the input and how it was repaired.
    defects: list[str]
    #: True when a body or a list was cut at its limit.
    is_truncated: bool
    #: sha256 hex of ``body_text`` with its whitespace collapsed, so that two copies
    #: of one message compare equal whatever their line endings; a capture with a
    #: known internet message id but another hash is a different body.
    body_hash: str
    conversation_id: str | None = None
