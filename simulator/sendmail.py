"""``POST /me/sendMail``'s request body, checked as Graph checks it, as MIME.

The simulated mailbox keeps every message as MIME, so a message sent through Graph
becomes the MIME Exchange would file in Sent Items: the owner as sender, the
recipients, the custom internet message headers, a new Message-ID and the time of
sending. Attachments are refused: the product sends none, and the simulator does
not pretend to store what it does not read.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import errors as email_errors
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

#: A header's name as RFC 5322 allows it: printable ASCII without the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
_RECIPIENT_FIELDS = (
    ("toRecipients", "To"),
    ("ccRecipients", "Cc"),
    ("bccRecipients", "Bcc"),
)


class MessageRefused(ValueError):
    """The request body is not a message Graph would send; 400 with this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Submission:
    """A message accepted for sending, and whether to keep it in Sent Items."""

    mime: bytes
    save_to_sent_items: bool


def submission(
    payload: Any, owner_name: str, owner_email: str, sent_at: datetime
) -> Submission:
    """The MIME of the message in a sendMail body; MessageRefused if Graph would."""
    if not isinstance(payload, dict) or not isinstance(payload.get("message"), dict):
        raise MessageRefused(
            "ErrorInvalidRequest", "The request body must hold a message object."
        )

    save = payload.get("saveToSentItems", True)
    if not isinstance(save, bool):
        raise MessageRefused(
            "RequestBodyRead",
            "Cannot convert the literal to the expected type 'Edm.Boolean'.",
        )

    resource: dict[str, Any] = payload["message"]
    if resource.get("attachments"):
        raise MessageRefused(
            "ErrorInvalidRequest", "The simulator sends messages without attachments."
        )

    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(owner_name, addr_spec=owner_email)
    _add_recipients(message, resource)
    message["Subject"] = _one_line(_text(resource.get("subject"), "subject"))
    message["Date"] = format_datetime(sent_at)
    domain = owner_email.rpartition("@")[2] or "simulator.local"
    message["Message-ID"] = f"<{uuid.uuid4().hex.upper()}@{domain}>"
    message["MIME-Version"] = "1.0"
    for name, value in _custom_headers(resource.get("internetMessageHeaders")):
        message[name] = value
    _set_body(message, resource.get("body"))

    return Submission(message.as_bytes(), save)


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""

    if not isinstance(value, str):
        raise MessageRefused(
            "RequestBodyRead", f"The property '{name}' must be a string."
        )

    return value


def _one_line(text: str) -> str:
    """Line breaks in a subject or a name become spaces: a header is one line."""
    return " ".join(text.splitlines())


def _add_recipients(message: EmailMessage, resource: dict[str, Any]) -> None:
    count = 0
    for field, header in _RECIPIENT_FIELDS:
        addresses = [_address(entry) for entry in resource.get(field) or []]
        if addresses:
            message[header] = addresses
            count += len(addresses)

    if count == 0:
        raise MessageRefused(
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., A message can't be sent because "
            "it contains no recipients.",
        )


def _address(entry: Any) -> Address:
    email_address = entry.get("emailAddress") if isinstance(entry, dict) else None
    address = email_address.get("address") if isinstance(email_address, dict) else None
    name = email_address.get("name") if isinstance(email_address, dict) else None
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address.strip()):
        raise MessageRefused(
            "ErrorInvalidRecipients", "At least one recipient isn't valid."
        )

    try:
        return Address(_one_line(_text(name, "name")), addr_spec=address.strip())
    except (email_errors.HeaderParseError, IndexError, ValueError):
        raise MessageRefused(
            "ErrorInvalidRecipients", "At least one recipient isn't valid."
        ) from None


def _custom_headers(entries: Any) -> list[tuple[str, str]]:
    """The custom headers, each named ``x-...`` and on one line, as Graph insists."""
    headers = []
    for entry in entries or []:
        name = entry.get("name") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(value, str):
            raise MessageRefused(
                "InvalidInternetMessageHeader",
                "An internet message header needs a name and a value.",
            )

        if not name.lower().startswith("x-") or not _FIELD_NAME.fullmatch(name):
            raise MessageRefused(
                "InvalidInternetMessageHeader",
                f"The internet message header name '{name}' should start with "
                "'x-' or 'X-'.",
            )

        if "\r" in value or "\n" in value:
            raise MessageRefused(
                "InvalidInternetMessageHeader",
                f"The value of the internet message header '{name}' must be one line.",
            )

        headers.append((name, value))

    return headers


def _set_body(message: EmailMessage, body: Any) -> None:
    if body is None:
        message.set_content("")
        return

    if not isinstance(body, dict):
        raise MessageRefused(
            "RequestBodyRead", "The property 'body' must be an object."
        )

    kind = str(body.get("contentType", "text")).lower()
    if kind not in ("text", "html"):
        raise MessageRefused(
            "RequestBodyRead",
            f"The value '{body.get('contentType')}' is not a valid bodyType.",
        )

    content = _text(body.get("content"), "content")
    message.set_content(content, subtype="plain" if kind == "text" else "html")
