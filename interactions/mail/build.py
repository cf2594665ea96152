"""From what a reader found to a NormalizedMessage: limits, cleaning, sanitizing.

Every reader (Graph JSON, MIME, Outlook .msg) fills a ``Draft`` with the text it
decoded and hands it to ``finish``, so that the rules for what is stored live in
one place whatever the message came from.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from interactions.mail.html import html_to_text, sanitize_html
from interactions.mail.limits import (
    MAX_ADDRESS_CHARS,
    MAX_ATTACHMENT_NAME_CHARS,
    MAX_ATTACHMENTS,
    MAX_BODY_HTML_CHARS,
    MAX_BODY_TEXT_CHARS,
    MAX_CLOCK_SKEW,
    MAX_CONVERSATION_ID_CHARS,
    MAX_DISPLAY_NAME_CHARS,
    MAX_MESSAGE_ID_CHARS,
    MAX_RECIPIENTS,
    MAX_SUBJECT_CHARS,
    Defects,
    clean_line,
    clean_text,
    cut,
)
from interactions.mail.message import (
    Address,
    AttachmentInfo,
    NormalizedMessage,
    UnreadableMessage,
)

log = logging.getLogger(__name__)

Raw = TypeVar("Raw")

#: A well-formed "type/subtype".
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")

#: (display name, address) as the reader decoded them.
Person = tuple[str, str]


@dataclass
class Draft:
    """A message as a reader decoded it, before limits and sanitizing."""

    defects: Defects = field(default_factory=Defects)
    internet_message_id: str | None = None
    conversation_id: str | None = None
    subject: str = ""
    sender: Person | None = None
    to: list[Person] = field(default_factory=list)
    cc: list[Person] = field(default_factory=list)
    sent_at: datetime | None = None
    body_text: str = ""
    #: As the message had it; ``finish`` sanitizes it.
    body_html: str = ""
    attachments: list[AttachmentInfo] = field(default_factory=list)


def read_safely(
    read: Callable[[Raw], NormalizedMessage],
) -> Callable[[Raw], NormalizedMessage]:
    """Keep a reader's promise: a message, or UnreadableMessage with a reason.

    A fault of the reader itself on some odd input is logged with its traceback
    and reported as unreadable, so that the capture fails with a reason instead of
    its task crashing again on every retry.
    """

    @functools.wraps(read)
    def guarded(raw: Raw) -> NormalizedMessage:
        try:
            return read(raw)
        except UnreadableMessage:
            raise
        except Exception as error:
            log.exception("%s could not read a message", read.__name__)
            raise UnreadableMessage(
                "The message could not be read because of a fault in this product, "
                "which has been logged; import it as a saved file, or ask support."
            ) from error

    return guarded


def finish(draft: Draft) -> NormalizedMessage:
    """Apply the limits, clean every string and sanitize the HTML."""
    defects = draft.defects
    body_html = _body_html(draft.body_html, defects)
    # With HTML, the text is read from it even when the message carried a plain
    # alternative: the pane and Graph give only the HTML, and one message must hash
    # the same however it arrived.
    body_text = html_to_text(body_html) if body_html else draft.body_text
    body_text = cut(
        clean_text(body_text, "body", defects)
        .replace("\r\n", "\n")
        .replace("\r", "\n"),
        MAX_BODY_TEXT_CHARS,
        "body text",
        defects,
    )

    return NormalizedMessage(
        internet_message_id=_message_id(draft.internet_message_id, defects),
        subject=clean_line(draft.subject, "subject", MAX_SUBJECT_CHARS, defects),
        sender=_sender(draft.sender, defects),
        to=_recipients(draft.to, "To", defects),
        cc=_recipients(draft.cc, "Cc", defects),
        sent_at=_sent_at(draft.sent_at, defects),
        body_text=body_text,
        body_html=body_html,
        attachments=_attachments(draft.attachments, defects),
        defects=list(defects.notes),
        is_truncated=defects.is_truncated,
        body_hash=hashlib.sha256(" ".join(body_text.split()).encode()).hexdigest(),
        conversation_id=clean_line(
            draft.conversation_id or "",
            "conversation id",
            MAX_CONVERSATION_ID_CHARS,
            defects,
        )
        or None,
    )


def _body_html(html: str, defects: Defects) -> str:
    if not html:
        return ""

    # Cut before sanitizing, so that the sanitizer's work stays bounded, and cut
    # again after it with a second pass, so that no tag is left half open.
    html = cut(
        clean_text(html, "HTML body", defects),
        MAX_BODY_HTML_CHARS,
        "HTML body",
        defects,
    )
    clean = sanitize_html(html)
    if len(clean) > MAX_BODY_HTML_CHARS:
        clean = sanitize_html(cut(clean, MAX_BODY_HTML_CHARS, "HTML body", defects))

    return clean


def _message_id(value: str | None, defects: Defects) -> str | None:
    message_id = clean_line(value or "", "message id", MAX_MESSAGE_ID_CHARS, defects)
    if not message_id:
        defects.add(
            "The message has no internet message id, so another copy of it will not "
            "be recognized as already logged."
        )

    return message_id or None


def _address(person: Person, what: str, defects: Defects) -> Address | None:
    """The person as stored, or None when there is no usable address."""
    name, address = person
    address = clean_line(address, f"{what} address", 10 * MAX_ADDRESS_CHARS, defects)
    address = address.strip("<>").strip().lower()
    if not address or len(address) > MAX_ADDRESS_CHARS:
        return None

    display_name = clean_line(name, f"{what} name", MAX_DISPLAY_NAME_CHARS, defects)

    return Address(address=address, display_name=display_name)


def _sender(person: Person | None, defects: Defects) -> Address | None:
    if person is None:
        defects.add("The message names no sender.")
        return None

    sender = _address(person, "sender", defects)
    if sender is None:
        defects.add("The sender has no usable email address and was left out.")

    return sender


def _recipients(people: Iterable[Person], what: str, defects: Defects) -> list[Address]:
    kept: list[Address] = []
    for person in people:
        if len(kept) == MAX_RECIPIENTS:
            defects.add(
                f"The {what} list had more than {MAX_RECIPIENTS:,} addresses; "
                "the rest were left out."
            )
            defects.is_truncated = True
            break

        address = _address(person, what, defects)
        if address is None:
            defects.add(
                f"Entries of the {what} list with no usable address were left out."
            )
        else:
            kept.append(address)

    return kept


def _sent_at(value: datetime | None, defects: Defects) -> datetime | None:
    if value is None:
        return None

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value > datetime.now(UTC) + MAX_CLOCK_SKEW:
        defects.add(
            "The date lies in the future and was not believed; "
            "the message has no sent time."
        )
        return None

    return value


def _attachments(found: list[AttachmentInfo], defects: Defects) -> list[AttachmentInfo]:
    if len(found) > MAX_ATTACHMENTS:
        defects.add(
            f"The message had more than {MAX_ATTACHMENTS:,} attachments; "
            "the rest are not listed."
        )
        defects.is_truncated = True

    return [
        AttachmentInfo(
            name=clean_line(
                a.name, "attachment name", MAX_ATTACHMENT_NAME_CHARS, defects
            )
            or "attachment",
            content_type=_content_type(a, defects),
            size=max(0, a.size),
            is_inline=a.is_inline,
        )
        for a in found[:MAX_ATTACHMENTS]
    ]


def _content_type(attachment: AttachmentInfo, defects: Defects) -> str:
    """The declared media type, else one guessed from the name."""
    declared = clean_line(attachment.content_type, "attachment type", 255, defects)
    if MEDIA_TYPE.fullmatch(declared.lower()):
        return declared.lower()

    guessed, _ = mimetypes.guess_type(attachment.name, strict=False)

    return guessed or "application/octet-stream"
