"""Reading an RFC 5322 / MIME message: a saved .eml, or Graph's ``$value``.

The stdlib parser runs with the ``compat32`` policy: it never raises on malformed
input (it records defects instead) and leaves header values as the raw text they
were, which ``headers`` then decodes with its own, more forgiving rules. Raw 8-bit
bytes reach us as surrogate escapes and are decoded here, with the charset of the
message's text as the first guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from html import escape

from interactions.mail.build import MEDIA_TYPE, Draft, finish, read_safely
from interactions.mail.headers import (
    decode_bytes,
    decode_words,
    parse_date,
    split_addresses,
    unescape_bytes,
)
from interactions.mail.limits import MAX_DEPTH, MAX_PARTS, Defects, check_raw_size
from interactions.mail.message import (
    AttachmentInfo,
    NormalizedMessage,
    UnreadableMessage,
)

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

#: At least one of these must be present for the input to count as an email.
MAIL_HEADERS = frozenset(
    {
        "from", "to", "cc", "subject", "date", "message-id", "received",
        "mime-version", "content-type", "content-transfer-encoding",
    }
)  # fmt: skip

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([a-zA-Z0-9_.:-]+)", re.I
)
_MBOX_SEPARATOR = re.compile(rb"\n\r?\nFrom \S+ ")

_parser = BytesParser(policy=compat32)


@read_safely
def from_mime(raw: bytes) -> NormalizedMessage:
    """Normalize an RFC 5322 message, reading malformed parts as well as they allow."""
    check_raw_size(raw)
    if raw.startswith(OLE_SIGNATURE):
        raise UnreadableMessage(
            "This is an Outlook .msg file, not an .eml file; import it as a .msg file."
        )

    try:
        message = _parser.parsebytes(raw)
    except RecursionError:
        raise UnreadableMessage(
            "The message has parts nested hundreds deep, which no mail program "
            "writes; it cannot be read."
        ) from None

    headers = _first_headers(message)
    if not MAIL_HEADERS & headers.keys():
        raise UnreadableMessage(
            "The file is not an email: it has no mail headers (From, To, Subject, "
            "Date or Content-Type). Save the message from the mail program as .eml "
            "and import that file."
        )

    draft = Draft()
    body = _Body(draft.defects)
    body.read(message, depth=0)
    body.finish(draft)
    _read_headers(headers, body.charset, draft)
    if message.get_unixfrom() and _MBOX_SEPARATOR.search(raw):
        draft.defects.add(
            "The file is a mailbox of several messages; only the first was read."
        )

    return finish(draft)


def _first_headers(message: Message) -> dict[str, str]:
    """The unfolded value of each header by lower-case name; To and Cc joined."""
    headers: dict[str, str] = {}
    for name, value in message.raw_items():
        key = name.strip().lower()
        value = _FOLD.sub("", value)
        if key in ("to", "cc") and key in headers:
            headers[key] += ", " + value
        else:
            headers.setdefault(key, value)

    return headers


def _read_headers(headers: dict[str, str], charset: str | None, draft: Draft) -> None:
    defects = draft.defects
    draft.subject = decode_words(
        headers.get("subject", ""), charset, "subject", defects
    )

    senders = _people(headers.get("from", ""), charset, "From", defects)
    if not senders:
        senders = _people(headers.get("sender", ""), charset, "From", defects)
    draft.sender = senders[0] if senders else None
    draft.to = _people(headers.get("to", ""), charset, "To", defects)
    draft.cc = _people(headers.get("cc", ""), charset, "Cc", defects)

    if "date" not in headers:
        defects.add("The message has no date; it has no sent time.")
    draft.sent_at = parse_date(
        unescape_bytes(headers.get("date", ""), None, "date", defects), defects
    )

    message_id = unescape_bytes(
        headers.get("message-id", ""), None, "message id", defects
    )
    found = _MESSAGE_ID.search(message_id)
    draft.internet_message_id = found.group(0) if found else message_id.strip()


def _people(
    value: str, charset: str | None, what: str, defects: Defects
) -> list[tuple[str, str]]:
    # Split before decoding: a decoded display name may hold a comma ("Foo, Bar").
    return [
        (
            decode_words(name, charset, f"{what} name", defects),
            unescape_bytes(address, charset, f"{what} address", defects),
        )
        for name, address in split_addresses(value, what, defects)
    ]


@dataclass
class _Section:
    text: str
    is_html: bool


@dataclass
class _Found:
    sections: list[_Section] = field(default_factory=list)
    attachments: list[AttachmentInfo] = field(default_factory=list)


class _Body:
    """Walks the MIME tree, collecting body sections and attachment metadata."""

    def __init__(self, defects: Defects) -> None:
        self.defects = defects
        self.found = _Found()
        self.parts = 0
        #: The charset of the first text part: the best guess for raw 8-bit headers.
        self.charset: str | None = None

    def read(self, part: Message, depth: int) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            self.defects.add("The message has too many parts; the rest were not read.")
            return

        if depth > MAX_DEPTH:
            self.defects.add("Parts nested too deeply in the message were not read.")
            return

        fields = _PartFields.of(part, self.charset, self.defects)
        if part.is_multipart():
            if fields.media_type.startswith("message/"):
                self._attach_message(part, fields)
            elif fields.media_type == "multipart/alternative":
                self._read_alternative(part, depth)
            else:
                for child in _children(part):
                    self.read(child, depth + 1)
            return

        if fields.media_type.startswith("multipart/"):
            self.defects.add(
                "A multipart part had no usable boundary; it was read as text."
            )
            fields.media_type = "text/plain"

        if (
            fields.media_type in ("text/plain", "text/html")
            and not fields.is_attachment
        ):
            self._read_text(part, fields)
        else:
            self._attach(part, fields)

    def finish(self, draft: Draft) -> None:
        sections = self.found.sections
        if any(s.is_html for s in sections):
            draft.body_html = "".join(
                s.text if s.is_html else _text_as_html(s.text) for s in sections
            )
        else:
            draft.body_text = "\n\n".join(s.text for s in sections)
        draft.attachments = self.found.attachments

    def _read_alternative(self, part: Message, depth: int) -> None:
        """Keep the richest alternative: the last with HTML, else the last with text."""
        outer = self.found
        best, best_rank = _Found(), -1
        for child in _children(part):
            self.found = _Found()
            self.read(child, depth + 1)
            rank = (
                2
                if any(s.is_html for s in self.found.sections)
                else int(bool(self.found.sections))
            )
            if rank >= best_rank:
                best, best_rank = self.found, rank

        self.found = outer
        outer.sections += best.sections
        outer.attachments += best.attachments

    def _read_text(self, part: Message, fields: _PartFields) -> None:
        data = _payload_bytes(part)
        is_html = fields.media_type == "text/html"
        charset = fields.charset
        if is_html and not charset:
            declared = _META_CHARSET.search(data[:4096])
            charset = declared.group(1).decode("ascii") if declared else None
        if fields.charset and self.charset is None:
            self.charset = fields.charset

        text = decode_bytes(data, charset, "body", self.defects)
        if text.strip():
            self.found.sections.append(_Section(text, is_html))

    def _attach(self, part: Message, fields: _PartFields) -> None:
        self.found.attachments.append(
            AttachmentInfo(
                name=fields.filename or "attachment",
                content_type=fields.media_type if fields.has_media_type else "",
                size=len(_payload_bytes(part)),
                is_inline=fields.is_inline,
            )
        )

    def _attach_message(self, part: Message, fields: _PartFields) -> None:
        """A forwarded message is one attachment, named by its subject."""
        name = fields.filename
        inner = _children(part)
        if not name and fields.media_type != "message/rfc822":
            # A delivery report's details ("message/delivery-status") have no subject.
            name = fields.media_type.replace("/", "-") + ".txt"
        elif not name and inner:
            subject = _first_headers(inner[0]).get("subject", "")
            name = decode_words(
                subject, self.charset, "attachment name", self.defects
            ).strip()
            name = f"{name or 'Attached message'}.eml"

        self.found.attachments.append(
            AttachmentInfo(
                name=name or "Attached message.eml",
                content_type=fields.media_type,
                size=_encoded_size(part),
                is_inline=False,
            )
        )


@dataclass
class _PartFields:
    media_type: str
    has_media_type: bool
    charset: str | None
    filename: str
    is_attachment: bool
    is_inline: bool

    @classmethod
    def of(cls, part: Message, fallback: str | None, defects: Defects) -> _PartFields:
        """Read a part's Content-Type and Content-Disposition, whatever their state.

        The values are decoded to text first and read from a copy, so that the
        parameter parsing (RFC 2231 included) never meets raw 8-bit bytes.
        """
        probe = Message()
        for name, value in part.raw_items():
            if name.strip().lower() in (
                "content-type",
                "content-disposition",
                "content-id",
            ):
                probe[name.strip()] = unescape_bytes(
                    _FOLD.sub("", value), fallback, "attachment name", defects
                )

        declared = str(probe.get("content-type", "")).split(";", 1)[0].strip().lower()
        has_media_type = bool(MEDIA_TYPE.fullmatch(declared))
        media_type = (
            part.get_content_type()
            if part.is_multipart()
            else (declared if has_media_type else part.get_default_type())
        )
        disposition = (
            str(probe.get("content-disposition", "")).split(";", 1)[0].strip().lower()
        )
        try:
            charset = probe.get_param("charset")
            filename = probe.get_filename() or ""
        except (TypeError, ValueError, LookupError):
            defects.add("A part's parameters could not be read.")
            charset, filename = None, ""

        filename = decode_words(filename, fallback, "attachment name", defects).strip()

        return cls(
            media_type=media_type,
            has_media_type=has_media_type,
            charset=charset if isinstance(charset, str) and charset.strip() else None,
            filename=filename,
            is_attachment=disposition == "attachment" or bool(filename),
            is_inline=disposition == "inline"
            or (disposition != "attachment" and "content-id" in probe),
        )


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []

    return [child for child in payload if isinstance(child, Message)]


def _payload_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)

    return payload if isinstance(payload, bytes) else b""


def _encoded_size(part: Message) -> int:
    """Size of a nested message as it sits in the outer one, without decoding it."""
    size, pending = 0, [part]
    while pending:
        current = pending.pop()
        size += sum(len(name) + len(value) + 4 for name, value in current.raw_items())
        payload = current.get_payload()
        if isinstance(payload, list):
            pending += [child for child in payload if isinstance(child, Message)]
        elif isinstance(payload, str):
            size += len(payload)

    return size


def _text_as_html(text: str) -> str:
    """A plain-text section beside HTML ones, as HTML that keeps its lines."""
    return "<div>" + "<br>".join(escape(line) for line in text.splitlines()) + "</div>"
