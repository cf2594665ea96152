"""Generated bad mail: the readers never fault, whatever the bytes.

Hypothesis builds messages from the pieces mail goes wrong with: unknown and wrong
charsets, broken RFC 2047 words, NUL bytes and stray 8-bit bytes in headers, bad
dates, missing and repeated ids, transfer encodings that do not decode, nested
multiparts with boundaries that never close. Each message must be read, or refused
with a reason; a reader's own fault (which ``read_safely`` would report as
unreadable) fails the test, and so does a message that takes over two seconds.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interactions.mail import NormalizedMessage, UnreadableMessage, from_mime, from_msg
from interactions.mail.mime import OLE_SIGNATURE

pytestmark = pytest.mark.badinput

CHARSETS = [
    "utf-8",
    "iso-8859-1",
    "windows-1252",
    "shift_jis",
    "koi8-r",
    "x-unknown",
    "",
]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", ""]
HEADER_NAMES = [
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "Content-Type",
    "Content-Transfer-Encoding", "Content-Disposition", "X-Odd",
]  # fmt: skip

raw_text = st.binary(max_size=120)
words = st.builds(
    lambda charset, kind, text: f"=?{charset}?{kind}?{text}?=".encode(),
    st.sampled_from(CHARSETS),
    st.sampled_from(["B", "Q", "b", "x"]),
    st.text(max_size=30),
)
header_value = st.one_of(
    raw_text,
    words,
    st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [b"Mon, 32 Foo 2026 25:61:00 +9999", b"<id@x>", b"<id@x> <id@x>", b"\x00\x00"]
    ),
)
header = st.builds(
    lambda name, value: name.encode() + b": " + value,
    st.sampled_from(HEADER_NAMES),
    header_value,
)


@st.composite
def part(draw: st.DrawFn, depth: int = 0) -> bytes:
    headers = draw(st.lists(header, max_size=6))
    kind = draw(st.sampled_from(["text/plain", "text/html", "multipart/mixed", "x/y"]))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    head = [
        *headers,
        f"Content-Type: {kind}; charset={charset}; boundary=b{depth}".encode(),
        f"Content-Transfer-Encoding: {encoding}".encode(),
    ]
    if kind.startswith("multipart") and depth < 3:
        children = draw(st.lists(part(depth + 1), max_size=3))
        closed = draw(st.booleans())
        body = b"".join(f"--b{depth}\r\n".encode() + child for child in children)
        body += f"--b{depth}--\r\n".encode() if closed else b""
    else:
        body = draw(st.binary(max_size=400))
    return b"\r\n".join(head) + b"\r\n\r\n" + body + b"\r\n"


def read_or_refuse(read: object, raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    try:
        message = read(raw)  # type: ignore[operator]
    except UnreadableMessage as refused:
        assert refused.reason.strip()
    else:
        assert isinstance(message, NormalizedMessage)
        assert "\x00" not in message.subject + message.body_text
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert faults == [], [r.getMessage() for r in faults]


@settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=part())
def test_generated_mime_is_read_or_refused_without_a_fault(
    raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    read_or_refuse(from_mime, raw, caplog)


@settings(
    max_examples=60,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tail=st.binary(max_size=4096))
def test_damaged_outlook_files_are_refused_without_a_fault(
    tail: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    read_or_refuse(from_msg, OLE_SIGNATURE + tail, caplog)
