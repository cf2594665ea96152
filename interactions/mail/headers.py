"""Reading header text: charsets, RFC 2047 encoded words, address lists and dates.

Shared by the MIME and Outlook readers. Each function records what it had to guess
in ``defects`` and returns the best text it can; none of them raises.
"""

from __future__ import annotations

import binascii
import codecs
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from interactions.mail.limits import MAX_ADDRESS_HEADER_CHARS, Defects

#: Labels that mail software uses for a charset whose real content is a superset;
#: the same substitutions web browsers make.
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "big5": "big5hkscs",
}

#: Single-byte labels that mislabelled UTF-8 hides behind: for these, valid UTF-8
#: with non-ASCII bytes is read as UTF-8, since Latin text almost never is.
_OFTEN_MISLABELLED = frozenset({"ascii", "cp1252"})

_CHARSET_LABEL = re.compile(r"[a-z0-9][a-z0-9_.:+-]{0,39}")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BROKEN_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?")
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*=*")


def codec_for(label: str | None) -> str | None:
    """Return the Python codec for a charset label, or None when there is none."""
    if not label:
        return None

    name = label.strip().strip("\"'").lower()
    if not _CHARSET_LABEL.fullmatch(name):
        return None

    name = CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None, what: str, defects: Defects) -> str:
    """Decode ``data`` with its declared charset, else UTF-8, else Windows-1252."""
    codec = codec_for(declared)
    if declared and codec is None:
        defects.add(f"The {what} named an unknown character set ({declared[:40]}).")

    wide = codec is not None and codec.startswith(("utf-16", "utf-32"))
    if not wide and data.isascii():
        return data.decode("ascii")

    if codec is None or codec in _OFTEN_MISLABELLED:
        candidates = ["utf-8", codec, "cp1252"]
    else:
        candidates = [codec, "utf-8", "cp1252"]

    for candidate in dict.fromkeys(c for c in candidates if c):
        if candidate == "cp1252" and (text := _mostly_utf8(data)) is not None:
            defects.add(
                f"The {what} was not valid {declared or 'UTF-8'}; read as UTF-8 "
                "with its damaged characters replaced."
            )
            return text

        try:
            text = data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue

        if candidate != codec and (declared or candidate != "utf-8"):
            defects.add(
                f"The {what} was not valid {declared or 'ASCII'}; read as {candidate}."
            )

        return text

    defects.add(f"The {what} had bytes of no known character set; read as Latin-1.")

    return data.decode("latin-1")


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few damaged bytes, which reads better than any 8-bit guess."""
    text = data.decode("utf-8", "replace")
    damaged = text.count("\ufffd")
    wide = sum(1 for character in text if character > "\x7f") - damaged

    return text if wide >= 4 and damaged * 4 <= wide else None


def unescape_bytes(
    value: str, fallback: str | None, what: str, defects: Defects
) -> str:
    """Decode raw 8-bit bytes that the parser kept as escapes in a header value.

    UTF-8 is allowed raw in headers (RFC 6532); anything else is a guess, first with
    the charset of the message's text (``fallback``), then Windows-1252.
    """
    if not _ESCAPED_BYTES.search(value):
        return value

    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass

    defects.add(f"The {what} had 8-bit text with no character set.")
    guess = fallback if codec_for(fallback) not in (None, "ascii") else "cp1252"

    return decode_bytes(data, guess, what, defects)


def _word_bytes(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "bB":
            if not _BASE64.fullmatch(text):
                return None
            return binascii.a2b_base64(text + "=" * (-len(text) % 4))

        return binascii.a2b_qp(text.encode("ascii"), header=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def decode_words(raw: str, fallback: str | None, what: str, defects: Defects) -> str:
    """Decode a header's RFC 2047 encoded words; a broken one stays as it was.

    Adjacent words in one charset are joined before decoding, since some senders
    split a multi-byte character across two words.
    """
    pieces: list[str] = []
    run: list[bytes] = []
    run_charset = ""
    after_word = False
    position = 0

    def flush() -> None:
        if run:
            pieces.append(decode_bytes(b"".join(run), run_charset, what, defects))
            run.clear()

    for match in _ENCODED_WORD.finditer(raw):
        between = raw[position : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        data = _word_bytes(match.group(2), match.group(3))
        # Space between two encoded words is folding, not text (RFC 2047, 6.2).
        joins = after_word and data is not None and not between.strip()
        if not joins or charset != run_charset:
            flush()
        if not joins:
            pieces.append(unescape_bytes(between, fallback, what, defects))

        if data is None:
            defects.add(f"An encoded word in the {what} is broken; shown as it was.")
            pieces.append(match.group(0))
        else:
            run.append(data)
            run_charset = charset
        after_word = data is not None
        position = match.end()

    flush()
    rest = raw[position:]
    if _BROKEN_WORD.search(rest):
        defects.add(f"An encoded word in the {what} is broken; shown as it was.")
    pieces.append(unescape_bytes(rest, fallback, what, defects))

    return "".join(pieces)


_ADDRESS_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|<[^<>]*>?|[,;:]|[^",;:<>()]+'
)


def _element(tokens: list[str]) -> tuple[str, str]:
    """Return (display name, address) of one comma-separated element."""
    angles = [token[1:].rstrip(">") for token in tokens if token.startswith("<")]
    words = [t for t in tokens if not t.startswith(("<", "("))]
    comments = [t[1:].rstrip(")") for t in tokens if t.startswith("(")]
    name = " ".join(
        re.sub(r"\\(.)", r"\1", w[1:].rstrip('"')) if w.startswith('"') else w.strip()
        for w in words
    ).strip()
    if angles:
        # A source route ("<@relay:user@host>") is obsolete syntax; keep the mailbox.
        address = angles[-1].strip().rpartition(":")[2]
        return name or " ".join(comments).strip(), address

    plain = name.split()
    address = next((w for w in reversed(plain) if "@" in w), "")
    if address:
        plain.remove(address)

    return " ".join(plain) or " ".join(comments).strip(), address.strip("<>")


def split_addresses(value: str, what: str, defects: Defects) -> list[tuple[str, str]]:
    """Split an address list into (display name, address) pairs.

    Not ``email.utils.getaddresses``: before Python 3.11.10 it reads the display
    name of ``alice@example.com <bob@example.com>`` as a second address (the lax
    parsing of CVE-2023-27043), which would show the wrong sender. Group syntax
    ("team: a@x, b@y;") yields its members.
    """
    if len(value) > MAX_ADDRESS_HEADER_CHARS:
        defects.add(f"The {what} list was too long to read whole and was cut.")
        value = value[: value.rfind(",", 0, MAX_ADDRESS_HEADER_CHARS) + 1]

    pairs: list[tuple[str, str]] = []
    tokens: list[str] = []
    for token in [*_ADDRESS_TOKEN.findall(value), ","]:
        if token == ":":
            tokens.clear()  # what came before was the group's name
        elif token in ",;":
            if any(t.strip() for t in tokens):
                pairs.append(_element(tokens))
            tokens = []
        else:
            tokens.append(token)

    if not all(address for _, address in pairs):
        defects.add(f"Entries of the {what} list with no address were left out.")

    return [(name, address) for name, address in pairs if address]


#: The year of an RFC 5322 date: after the day and the month's name.
_WRITTEN_YEAR = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3}\s+(\d+)\b")


def parse_date(raw: str | None, defects: Defects) -> datetime | None:
    """Read an RFC 5322 date as UTC; a date without a zone is taken as UTC."""
    if not raw or not raw.strip():
        return None

    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.add("The date could not be read; the message has no sent time.")
        return None

    # The parser reads any year below 100 as a two-digit one (0000 as 2000); a
    # year written in full before 1900 predates email and is not believed.
    written = _WRITTEN_YEAR.search(raw)
    if written and len(written[1]) >= 3 and int(written[1]) < 1900:
        defects.add(
            f"The date's year {written[1]} is not believable; "
            "the message has no sent time."
        )
        return None

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)

    return value.astimezone(UTC)
