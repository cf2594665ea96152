"""How much of a message is kept, and the cleaning every stored string gets.

Past a limit the message is still stored, cut, with ``is_truncated`` set and a
note in its defects; only a raw message over ``MAX_RAW_BYTES`` is refused.
"""

from __future__ import annotations

import re
from datetime import timedelta

from interactions.mail.message import UnreadableMessage

MAX_RAW_BYTES = 50 * 1024 * 1024
MAX_BODY_TEXT_CHARS = 1_000_000
MAX_BODY_HTML_CHARS = 2_000_000
#: The subject prefills the interaction's title, which is this wide.
MAX_SUBJECT_CHARS = 500
#: RFC 5322's line limit; also the width of the internet message id column.
MAX_MESSAGE_ID_CHARS = 998
MAX_CONVERSATION_ID_CHARS = 500
MAX_RECIPIENTS = 1_000
#: Widths of the participant columns.
MAX_ADDRESS_CHARS = 320
MAX_DISPLAY_NAME_CHARS = 300
MAX_ATTACHMENTS = 1_000
MAX_ATTACHMENT_NAME_CHARS = 255
#: An address header longer than this is cut at a comma before it is parsed, so
#: that parsing stays cheap whatever the sender put there.
MAX_ADDRESS_HEADER_CHARS = 512_000
#: MIME parts visited and nesting followed; deeper or more is listed as a defect.
MAX_PARTS = 2_000
MAX_DEPTH = 40
#: Clocks drift; a date further ahead than this is not believed.
MAX_CLOCK_SKEW = timedelta(days=1)

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x01-\x1f\x7f]+")


class Defects:
    """The notes of one message, each once, in the order they were found.

    ``is_truncated`` is set when anything of the message was cut at a limit.
    """

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.is_truncated = False

    def add(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)


def check_raw_size(raw: bytes) -> None:
    if len(raw) > MAX_RAW_BYTES:
        raise UnreadableMessage(
            "The message is larger than 50 MB; save it without its attachments "
            "and import it again."
        )

    if not raw.strip():
        raise UnreadableMessage("The file is empty; choose the saved email again.")


def clean_text(value: str, what: str, defects: Defects) -> str:
    """Drop NUL characters (PostgreSQL text refuses them) and lone surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", "")
        defects.add(f"NUL characters were removed from the {what}.")

    if _SURROGATES.search(value):
        value = _SURROGATES.sub("", value)
        defects.add(f"Characters that are not valid text were removed from the {what}.")

    return value


def clean_line(value: str, what: str, limit: int, defects: Defects) -> str:
    """Clean a header-like value: one line, no control characters, at most ``limit``."""
    value = _CONTROLS.sub(" ", clean_text(value, what, defects)).strip()

    return cut(value, limit, what, defects).rstrip()


def cut(value: str, limit: int, what: str, defects: Defects) -> str:
    """Return ``value`` cut to ``limit`` characters, noting it when it was cut."""
    if len(value) <= limit:
        return value

    defects.add(f"The {what} was longer than {limit:,} characters and was cut.")
    defects.is_truncated = True

    return value[:limit]
