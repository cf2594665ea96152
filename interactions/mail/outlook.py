"""Reading an Outlook .msg file: a MAPI message in an OLE compound file (MS-OXMSG).

Each property of the message sits in a stream named after its tag
(``__substg1.0_0037001F`` is the subject, as UTF-16); fixed-size ones (numbers,
times, flags) share the ``__properties_version1.0`` stream. Recipients and
attachments are sub-storages with the same layout. Only what a NormalizedMessage
needs is read; attachment content is never decoded, only measured.
"""

from __future__ import annotations

import io
import logging
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

import olefile

from interactions.mail.build import Draft, Person, finish, read_safely
from interactions.mail.headers import (
    codec_for,
    decode_bytes,
    decode_words,
    parse_date,
    split_addresses,
)
from interactions.mail.limits import (
    MAX_ATTACHMENTS,
    MAX_RECIPIENTS,
    Defects,
    check_raw_size,
)
from interactions.mail.message import (
    AttachmentInfo,
    NormalizedMessage,
    UnreadableMessage,
)

log = logging.getLogger(__name__)

# Property ids (MS-OXPROPS).
MESSAGE_CLASS = 0x001A
SUBJECT = 0x0037
CLIENT_SUBMIT_TIME = 0x0039
SENT_REPRESENTING_EMAIL = 0x0065
SENT_REPRESENTING_NAME = 0x0042
TRANSPORT_HEADERS = 0x007D
RECIPIENT_TYPE = 0x0C15
SENDER_NAME = 0x0C1A
SENDER_ADDRESS_TYPE = 0x0C1E
SENDER_ADDRESS = 0x0C1F
MESSAGE_DELIVERY_TIME = 0x0E06
ATTACH_SIZE = 0x0E20
BODY = 0x1000
HTML = 0x1013
INTERNET_MESSAGE_ID = 0x1035
DISPLAY_NAME = 0x3001
ADDRESS_TYPE = 0x3002
EMAIL_ADDRESS = 0x3003
SMTP_ADDRESS = 0x39FE
ATTACH_DATA = 0x3701
ATTACH_FILENAME = 0x3704
ATTACH_METHOD = 0x3705
ATTACH_LONG_FILENAME = 0x3707
ATTACH_MIME_TAG = 0x370E
ATTACH_CONTENT_ID = 0x3712
ATTACH_FLAGS = 0x3714
INTERNET_CODEPAGE = 0x3FDE
MESSAGE_CODEPAGE = 0x3FFD
SENDER_SMTP_ADDRESS = 0x5D01
ATTACHMENT_HIDDEN = 0x7FFE

PT_STRING8 = 0x001E
PT_UNICODE = 0x001F
PT_BINARY = 0x0102
PT_OBJECT = 0x000D

ATTACH_EMBEDDED_MESSAGE = 5
EMBEDDED_MESSAGE = "__substg1.0_3701000D"
ATTACH_MHTML_REF = 0x4
RECIPIENT_TO, RECIPIENT_CC = 1, 2

#: Classes of Outlook items that are not messages at all.
NOT_MAIL = ("ipm.contact", "ipm.distlist", "ipm.task", "ipm.stickynote", "ipm.activity")

#: Windows code pages for the internet code pages Outlook records, where they differ:
#: non-Unicode strings of a Japanese message sent as ISO-2022-JP are in cp932.
_ANSI_CODE_PAGES = {
    20127: "cp1252",
    28591: "cp1252",
    50220: "cp932",
    50221: "cp932",
    50222: "cp932",
    51932: "cp932",
    936: "gb18030",
    54936: "gb18030",
    51949: "cp949",
    50225: "cp949",
    20866: "koi8-r",
    28595: "cp1251",
}
_INTERNET_CODE_PAGES = {
    65001: "utf-8",
    20127: "ascii",
    28591: "iso-8859-1",
    50220: "iso2022_jp",
    50221: "iso2022_jp",
    50222: "iso2022_jp",
    51932: "euc_jp",
    20866: "koi8-r",
}
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([a-zA-Z0-9_.:-]+)", re.I
)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_STREAM = re.compile(r"__substg1\.0_([0-9A-Fa-f]{4})([0-9A-Fa-f]{4})")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@read_safely
def from_msg(raw: bytes) -> NormalizedMessage:
    """Normalize an Outlook .msg file."""
    check_raw_size(raw)
    if not olefile.isOleFile(io.BytesIO(raw)):
        raise UnreadableMessage(
            "The file is not an Outlook .msg file; if it is a saved email, import it "
            "as an .eml file."
        )

    try:
        with olefile.OleFileIO(io.BytesIO(raw)) as ole:
            return finish(_read(ole))
    except UnreadableMessage:
        raise
    except Exception as error:
        # olefile reports a damaged file with whatever its structures threw (struct
        # errors, index errors, OSError); all of them mean the same to a person.
        log.info("unreadable .msg file: %r", error)
        raise UnreadableMessage(
            "The .msg file is damaged and could not be read; save the message from "
            "Outlook again, or save it as .eml, and import that file."
        ) from error


_Tree = dict[str, list[str]]


@dataclass
class _Storage:
    """The properties of one MAPI object: the message, a recipient or an attachment."""

    ole: olefile.OleFileIO[str]
    path: str
    header_size: int
    #: Stream name by (property id, property type).
    streams: dict[tuple[int, int], str] = field(default_factory=dict)
    fixed: dict[int, bytes] = field(default_factory=dict)
    storages: list[str] = field(default_factory=list)

    @classmethod
    def open(
        cls, ole: olefile.OleFileIO[str], tree: _Tree, path: str, header_size: int
    ) -> _Storage:
        storage = cls(ole, path, header_size)
        prefix = f"{path}/" if path else ""
        for child in tree.get(path, []):
            if found := _STREAM.fullmatch(child):
                key = (int(found.group(1), 16), int(found.group(2), 16))
                storage.streams[key] = prefix + child
            elif child.startswith(("__recip_version1.0_", "__attach_version1.0_")):
                storage.storages.append(prefix + child)

        properties = f"{prefix}__properties_version1.0"
        if ole.exists(properties):
            data = ole.openstream(properties).read()
            for offset in range(header_size, len(data) - 15, 16):
                (tag,) = struct.unpack_from("<I", data, offset)
                storage.fixed[tag >> 16] = data[offset + 8 : offset + 16]

        return storage

    def bytes_of(self, property_id: int) -> bytes | None:
        for kind in (PT_BINARY, PT_UNICODE, PT_STRING8):
            if (name := self.streams.get((property_id, kind))) is not None:
                data: bytes = self.ole.openstream(name).read()
                return data
        return None

    def text(self, property_id: int, codepage: str | None, defects: Defects) -> str:
        if (name := self.streams.get((property_id, PT_UNICODE))) is not None:
            data = self.ole.openstream(name).read()
            return str(data.decode("utf-16-le", "replace").rstrip("\x00"))

        if (name := self.streams.get((property_id, PT_STRING8))) is not None:
            data = self.ole.openstream(name).read().rstrip(b"\x00")
            return decode_bytes(data, codepage, "message", defects)

        return ""

    def integer(self, property_id: int) -> int | None:
        value = self.fixed.get(property_id)
        return struct.unpack_from("<i", value)[0] if value else None

    def time(self, property_id: int) -> datetime | None:
        value = self.fixed.get(property_id)
        if not value:
            return None
        (ticks,) = struct.unpack_from("<q", value)
        if ticks <= 0:
            return None
        try:
            return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
        except OverflowError:
            return None

    def stream_size(self, property_id: int) -> int | None:
        name = self.streams.get((property_id, PT_BINARY))
        return self.ole.get_size(name) if name else None


def _tree(ole: olefile.OleFileIO[str]) -> _Tree:
    """The names in each storage of the file, by the storage's path."""
    tree: _Tree = {}
    for entry in ole.listdir(streams=True, storages=True):
        tree.setdefault("/".join(entry[:-1]), []).append(entry[-1])

    return tree


def _read(ole: olefile.OleFileIO[str]) -> Draft:
    tree = _tree(ole)
    message = _Storage.open(ole, tree, "", header_size=32)
    draft = Draft()
    defects = draft.defects
    codepage = _ansi_codepage(message)

    message_class = message.text(MESSAGE_CLASS, codepage, defects).lower()
    if message_class.startswith(NOT_MAIL):
        raise UnreadableMessage(
            "The .msg file holds an Outlook item that is not an email "
            f"({message_class[:40]}); only emails can be imported."
        )

    headers = HeaderParser(policy=compat32).parsestr(
        message.text(TRANSPORT_HEADERS, codepage, defects)
    )
    draft.subject = message.text(SUBJECT, codepage, defects)
    draft.internet_message_id = _message_id(message, headers, codepage, defects)
    draft.sender = _sender(message, headers, codepage, defects)
    draft.to, draft.cc = _recipients(message, tree, headers, codepage, defects)
    draft.sent_at = (
        message.time(CLIENT_SUBMIT_TIME)
        or message.time(MESSAGE_DELIVERY_TIME)
        or parse_date(headers.get("date"), defects)
    )
    if draft.sent_at is None:
        defects.add("The message has no date; it has no sent time.")

    draft.body_html = _html(message, defects)
    if not draft.body_html:
        draft.body_text = message.text(BODY, codepage, defects)
    draft.attachments = _attachments(message, tree, codepage, defects)

    return draft


def _ansi_codepage(message: _Storage) -> str | None:
    for property_id, table in (
        (MESSAGE_CODEPAGE, {}),
        (INTERNET_CODEPAGE, _ANSI_CODE_PAGES),
    ):
        number = message.integer(property_id)
        if number is not None:
            return table.get(number) or codec_for(f"cp{number}")

    return None


def _message_id(
    message: _Storage, headers: Message, codepage: str | None, defects: Defects
) -> str:
    value = message.text(INTERNET_MESSAGE_ID, codepage, defects)
    if not value:
        value = str(headers.get("message-id") or "")
    found = _MESSAGE_ID.search(value)

    return found.group(0) if found else value.strip()


def _smtp(address_type: str, address: str) -> str:
    """The address if it is an internet one; Exchange's X.500 paths are not."""
    if address_type.upper() == "SMTP" or (
        "@" in address and not address.startswith("/")
    ):
        return address
    return ""


def _sender(
    message: _Storage, headers: Message, codepage: str | None, defects: Defects
) -> Person | None:
    name = message.text(SENDER_NAME, codepage, defects) or message.text(
        SENT_REPRESENTING_NAME, codepage, defects
    )
    address = message.text(SENDER_SMTP_ADDRESS, codepage, defects) or _smtp(
        message.text(SENDER_ADDRESS_TYPE, codepage, defects),
        message.text(SENDER_ADDRESS, codepage, defects)
        or message.text(SENT_REPRESENTING_EMAIL, codepage, defects),
    )
    if not address:
        from_header = _header_people(headers, "from", defects)
        if from_header:
            return (name or from_header[0][0], from_header[0][1])

    if not name and not address:
        return None

    return name, address


def _recipients(
    message: _Storage,
    tree: _Tree,
    headers: Message,
    codepage: str | None,
    defects: Defects,
) -> tuple[list[Person], list[Person]]:
    to: list[Person] = []
    cc: list[Person] = []
    for path in message.storages:
        if "__recip_version1.0_" not in path or len(to) + len(cc) > 2 * MAX_RECIPIENTS:
            continue
        recipient = _Storage.open(message.ole, tree, path, header_size=8)
        kind = recipient.integer(RECIPIENT_TYPE)
        person = (
            recipient.text(DISPLAY_NAME, codepage, defects),
            recipient.text(SMTP_ADDRESS, codepage, defects)
            or _smtp(
                recipient.text(ADDRESS_TYPE, codepage, defects),
                recipient.text(EMAIL_ADDRESS, codepage, defects),
            ),
        )
        if kind == RECIPIENT_TO:
            to.append(person)
        elif kind == RECIPIENT_CC:
            cc.append(person)

    if not to and not cc:
        to = _header_people(headers, "to", defects)
        cc = _header_people(headers, "cc", defects)

    return to, cc


def _header_people(headers: Message, name: str, defects: Defects) -> list[Person]:
    """People of an address header of the internet headers Outlook kept, if any."""
    values = [str(value) for value in headers.get_all(name) or []]

    return [
        (decode_words(display, None, name, defects), address)
        for display, address in split_addresses(", ".join(values), name, defects)
    ]


def _html(message: _Storage, defects: Defects) -> str:
    data = message.bytes_of(HTML)
    if not data:
        return ""

    if (HTML, PT_UNICODE) in message.streams:
        return data.decode("utf-16-le", "replace").rstrip("\x00")

    declared = _META_CHARSET.search(data[:4096])
    number = message.integer(INTERNET_CODEPAGE)
    charset = declared.group(1).decode("ascii") if declared else None
    if charset is None and number is not None:
        charset = _INTERNET_CODE_PAGES.get(number, f"cp{number}")

    return decode_bytes(data.rstrip(b"\x00"), charset, "HTML body", defects)


def _attachments(
    message: _Storage, tree: _Tree, codepage: str | None, defects: Defects
) -> list[AttachmentInfo]:
    found: list[AttachmentInfo] = []
    for path in message.storages:
        if "__attach_version1.0_" not in path or len(found) > MAX_ATTACHMENTS:
            continue
        attachment = _Storage.open(message.ole, tree, path, header_size=8)
        name = (
            attachment.text(ATTACH_LONG_FILENAME, codepage, defects)
            or attachment.text(ATTACH_FILENAME, codepage, defects)
            or attachment.text(DISPLAY_NAME, codepage, defects)
        )
        content_type = attachment.text(ATTACH_MIME_TAG, codepage, defects)
        if attachment.integer(ATTACH_METHOD) == ATTACH_EMBEDDED_MESSAGE:
            content_type = "application/vnd.ms-outlook"
            name = (
                name
                if name.lower().endswith(".msg")
                else f"{name or 'Attached message'}.msg"
            )
        flags = attachment.integer(ATTACH_FLAGS) or 0
        found.append(
            AttachmentInfo(
                name=name,
                content_type=content_type,
                size=attachment.stream_size(ATTACH_DATA)
                or attachment.integer(ATTACH_SIZE)
                or _storage_size(message.ole, tree, f"{path}/{EMBEDDED_MESSAGE}"),
                is_inline=bool(flags & ATTACH_MHTML_REF)
                or bool(attachment.integer(ATTACHMENT_HIDDEN))
                or bool(attachment.text(ATTACH_CONTENT_ID, codepage, defects)),
            )
        )

    return found


def _storage_size(ole: olefile.OleFileIO[str], tree: _Tree, path: str) -> int:
    """Bytes in all the streams of a storage, such as an attached message."""
    size = 0
    for child in tree.get(path, []):
        name = f"{path}/{child}"
        size += _storage_size(ole, tree, name) if name in tree else ole.get_size(name)

    return size
