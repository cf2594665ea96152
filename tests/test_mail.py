"""Email normalization: each input gives a NormalizedMessage or a reason to refuse."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from interactions.mail import (
    NormalizedMessage,
    UnreadableMessage,
    from_graph,
    from_mime,
    from_msg,
    html_to_text,
    sanitize_html,
)
from interactions.mail.limits import (
    MAX_BODY_TEXT_CHARS,
    MAX_RAW_BYTES,
    MAX_RECIPIENTS,
    MAX_SUBJECT_CHARS,
)
from interactions.services.captures import CaptureDraft

pytestmark = pytest.mark.badinput

#: Public sample messages (malformed ones included), kept beside the project.
CORPUS = Path(__file__).parents[2] / "shared" / "corpus" / "emails"
CORPUS_MISSING = "the email corpus (shared/corpus/emails beside the project) is absent"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []

    return sorted(p for p in CORPUS.glob("*/*") if p.parent.name in ("eml", "msg"))


def reader_for(path: Path) -> Callable[[bytes], NormalizedMessage]:
    return from_msg if path.suffix.lower() == ".msg" else from_mime


def corpus_params() -> list[Any]:
    files = corpus_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=CORPUS_MISSING))]

    return [pytest.param(path, id=path.name) for path in files]


def eml(body: bytes = b"Hello.\n", /, **headers: str) -> bytes:
    """A small message; ``headers`` replace or add to the default ones."""
    fields = {
        "From": "Ann Example <ann@example.com>",
        "To": "bob@example.com",
        "Subject": "Hello",
        "Date": "Mon, 06 May 2024 09:30:00 +0200",
        "Message-ID": "<1@example.com>",
        **headers,
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())

    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


def assert_well_formed(message: NormalizedMessage) -> None:
    assert message.sent_at is None or message.sent_at.tzinfo == UTC
    assert re.fullmatch(r"[0-9a-f]{64}", message.body_hash)
    for text in (message.subject, message.body_text, message.body_html):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates
    assert "<script" not in message.body_html.lower()
    assert all(isinstance(note, str) and note for note in message.defects)


# The corpus


@pytest.mark.parametrize("path", corpus_params())
def test_every_corpus_file_normalizes_or_gives_a_reason(path: Path) -> None:
    try:
        message = reader_for(path)(path.read_bytes())
    except UnreadableMessage as error:
        assert error.reason.endswith(".")
        return

    assert_well_formed(message)


def test_the_corpus_reads_nearly_whole() -> None:
    files = corpus_files()
    if not files:
        pytest.skip(CORPUS_MISSING)

    refused = []
    for path in files:
        try:
            reader_for(path)(path.read_bytes())
        except UnreadableMessage:
            refused.append(path.name)

    assert refused == []


def test_normalizing_keeps_up_with_the_pipeline() -> None:
    """The worker stores 200 messages a second; reading them must be far faster."""
    files = [(reader_for(p), p.read_bytes()) for p in corpus_files()]
    if not files:
        pytest.skip(CORPUS_MISSING)

    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 1.0:
        for reader, raw in files:
            reader(raw)
        count += len(files)

    assert count / (time.perf_counter() - started) > 200


def test_an_outlook_file_gives_sender_recipients_and_attachments() -> None:
    path = CORPUS / "msg" / "sicos-msgreader__EmailWithAttachments.msg"
    if not path.exists():
        pytest.skip(CORPUS_MISSING)

    message = from_msg(path.read_bytes())

    assert message.subject == "This is the subject"
    assert message.sender is not None
    assert message.sender.address == "peterpan@neverland.com"
    assert [a.name for a in message.attachments] == ["peterpan.jpg", "tinkerbell.jpg"]
    assert all(
        a.content_type == "image/jpeg" and a.size > 0 for a in message.attachments
    )


def test_a_non_unicode_outlook_file_is_read_in_its_code_page() -> None:
    path = CORPUS / "msg" / "hiraoka-msgreader__nonUnicodeCP932.msg"
    if not path.exists():
        pytest.skip(CORPUS_MISSING)

    assert from_msg(path.read_bytes()).subject == "日本語 Non Unicode タイトル"


# Headers


def test_rfc_2047_subject_and_names_are_decoded() -> None:
    message = from_mime(
        eml(
            Subject="=?utf-8?B?SGVsbG8g4pyU?= =?iso-8859-1?Q?caf=E9?=",
            From="=?utf-8?Q?Ren=C3=A9e=2C_M?= <renee@example.com>",
            To='"=?utf-8?B?Wm/Dqw==?=" <zoe@example.com>, bob@example.com',
        )
    )

    assert message.subject == "Hello ✔café"
    assert message.sender is not None
    assert message.sender.display_name == "Renée, M"
    assert [(p.display_name, p.address) for p in message.to] == [
        ("Zoë", "zoe@example.com"),
        ("", "bob@example.com"),
    ]


def test_a_broken_encoded_word_stays_as_it_was() -> None:
    message = from_mime(eml(Subject="=?utf-8?B?@@@?= report"))

    assert message.subject == "=?utf-8?B?@@@?= report"
    assert any("encoded word" in note for note in message.defects)


def test_raw_8_bit_headers_are_read_in_the_body_charset() -> None:
    raw = eml(
        b"Hello.\n",
        **{
            "Subject": "r\udce9sum\udce9",
            "Content-Type": "text/plain; charset=latin-1",
        },
    )

    assert from_mime(raw).subject == "résumé"


def test_utf_8_with_a_damaged_byte_is_still_read_as_utf_8() -> None:
    name = "Юникод".encode() + b"\xf1"
    raw = eml(From=name.decode("ascii", "surrogateescape") + " <u@example.com>")

    sender = from_mime(raw).sender

    assert sender is not None
    assert sender.display_name == "Юникод\ufffd"


def test_the_display_name_that_looks_like_an_address_is_not_the_sender() -> None:
    message = from_mime(eml(From="alice@example.com <bob@example.com>"))

    assert message.sender is not None
    assert message.sender.address == "bob@example.com"


def test_addresses_are_lower_cased() -> None:
    message = from_mime(eml(To="Bob <Bob@Example.COM>"))

    assert message.to[0].address == "bob@example.com"


# Charsets


def test_an_undeclared_charset_is_guessed() -> None:
    utf8 = from_mime(eml("Grüße aus Köln\n".encode()))
    latin = from_mime(eml("Grüße aus Köln\n".encode("cp1252")))

    assert utf8.body_text == latin.body_text == "Grüße aus Köln\n"
    assert latin.defects


@pytest.mark.parametrize(
    ("declared", "body"),
    [
        ("us-ascii", "Grüße\n".encode()),
        ("utf-8", "Grüße\n".encode("cp1252")),
        ("x-no-such-charset", "Grüße\n".encode()),
    ],
)
def test_a_wrong_declared_charset_is_repaired(declared: str, body: bytes) -> None:
    message = from_mime(
        eml(body, **{"Content-Type": f"text/plain; charset={declared}"})
    )

    assert message.body_text == "Grüße\n"
    assert message.defects


# Structure


def multipart_message() -> bytes:
    message = EmailMessage()
    message["From"] = "ann@example.com"
    message["To"] = "bob@example.com"
    message["Subject"] = "Report"
    message["Message-ID"] = "<2@example.com>"
    message.set_content("Plain alternative")
    message.add_alternative("<p>The <b>rich</b> one</p>", subtype="html")
    message.add_attachment(
        b"SECRET-CONTENT" * 100,
        maintype="application",
        subtype="pdf",
        filename="Q1 report.pdf",
    )

    return message.as_bytes()


def test_multipart_alternative_prefers_html_and_reads_text_from_it() -> None:
    message = from_mime(multipart_message())

    assert message.body_html.strip() == "<p>The <b>rich</b> one</p>"
    assert message.body_text == "The rich one"


def test_attachments_are_metadata_only() -> None:
    message = from_mime(multipart_message())

    [attachment] = message.attachments
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "Q1 report.pdf",
        "application/pdf",
        1400,
    )
    assert "SECRET" not in repr(message)


def test_a_forwarded_message_is_an_attachment_named_by_its_subject() -> None:
    inner = eml(Subject="Original")
    outer = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n'
        + eml(b"")[:-2]
        + b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
        + b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        + inner
        + b"\r\n--b--\r\n"
    )

    message = from_mime(outer)

    assert message.body_text == "See below."
    assert [(a.name, a.content_type) for a in message.attachments] == [
        ("Original.eml", "message/rfc822")
    ]


def test_one_message_hashes_the_same_whatever_its_line_endings() -> None:
    crlf = from_mime(eml(b"One\r\ntwo  three\r\n"))
    lf = from_mime(eml(b"One\ntwo three\n"))

    assert crlf.body_hash == lf.body_hash


# Hostile and oversized input


def test_scripts_handlers_and_javascript_urls_are_stripped() -> None:
    html = (
        '<p onclick="steal()">Hi<script>alert(1)</script>'
        '<img src="x" onerror="alert(2)"><img src="https://example.com/logo.png">'
        '<a href="javascript:alert(3)">link</a><a href="JaVaScRiPt:alert(4)">b</a>'
        '<iframe src="https://evil.example"></iframe><svg onload="alert(5)"></svg>'
        '<div style="background:url(javascript:alert(6));color:red">c</div></p>'
    )
    message = from_mime(
        eml(html.encode(), **{"Content-Type": "text/html; charset=utf-8"})
    )

    lowered = message.body_html.lower()
    for forbidden in (
        "script",
        "onerror",
        "onclick",
        "onload",
        "javascript:",
        "iframe",
    ):
        assert forbidden not in lowered
    assert 'src="https://example.com/logo.png"' in message.body_html
    assert "color:red" in message.body_html


def test_sanitized_links_open_apart_from_the_viewer() -> None:
    clean = sanitize_html('<a href="https://example.com">x</a>')

    assert 'rel="noopener noreferrer nofollow"' in clean
    assert 'target="_blank"' in clean


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two &amp; three</p>", "One\n\nTwo & three"),
        (
            "<div>Hi Bob,</div><div><br></div><div>Thanks</div><div>Ann</div>",
            "Hi Bob,\n\nThanks\nAnn",
        ),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("<ul><li>one</li><li>two</li></ul>after", "one\ntwo\n\nafter"),
        ("<style>p {}</style>a\nb<br>c", "a b\nc"),
    ],
)
def test_html_to_text_keeps_the_lines_a_reader_sees(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_a_huge_body_is_cut_and_marked_truncated() -> None:
    message = from_mime(eml(b"word " * (MAX_BODY_TEXT_CHARS // 4)))

    assert len(message.body_text) == MAX_BODY_TEXT_CHARS
    assert message.is_truncated
    assert any("cut" in note for note in message.defects)


def test_thousands_of_recipients_are_bounded() -> None:
    to = ", ".join(f"person{n}@example.com" for n in range(5_000))

    message = from_mime(eml(To=to))

    assert len(message.to) == MAX_RECIPIENTS
    assert message.is_truncated


def test_a_100_kb_subject_is_cut() -> None:
    message = from_mime(eml(Subject="x" * 100_000))

    assert len(message.subject) == MAX_SUBJECT_CHARS
    assert message.is_truncated


def test_nul_bytes_are_removed() -> None:
    message = from_mime(eml(b"one\x00two\n", Subject="a\x00b"))

    assert message.subject == "ab"
    assert message.body_text == "onetwo\n"
    assert any("NUL" in note for note in message.defects)


def test_a_missing_message_id_is_none_with_a_defect() -> None:
    raw = eml(**{"Message-ID": ""})

    message = from_mime(raw)

    assert message.internet_message_id is None
    assert any("message id" in note for note in message.defects)


@pytest.mark.parametrize(
    "date",
    ["not a date", "Mon, 99 Foo 2024 25:61:00 +0000", "Fri, 1 Jan 2100 00:00 +0000"],
)
def test_a_bad_date_is_none_with_a_defect(date: str) -> None:
    message = from_mime(eml(Date=date))

    assert message.sent_at is None
    assert any("date" in note.lower() for note in message.defects)


def test_a_date_is_read_as_utc() -> None:
    message = from_mime(eml())

    assert message.sent_at == datetime(2024, 5, 6, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"%PDF-1.7\n\x00\x01binary", "not an email"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, ".msg"),
    ],
)
def test_what_is_not_an_email_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(UnreadableMessage, match=re.escape(reason)):
        from_mime(raw)


def nested(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--" % n for n in reversed(range(depth)))

    return b"From: a@example.com\r\n" + opening + b"\r\nDeep.\r\n" + closing


def test_parts_nested_too_deeply_are_left_out_with_a_defect() -> None:
    message = from_mime(nested(60))

    assert any("nested too deeply" in note for note in message.defects)


def test_parts_nested_beyond_reason_are_refused() -> None:
    with pytest.raises(UnreadableMessage, match="nested hundreds deep"):
        from_mime(nested(5_000))


def test_a_fault_of_the_reader_is_reported_as_unreadable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a fault")

    monkeypatch.setattr("interactions.mail.mime._read_headers", broken)

    with pytest.raises(UnreadableMessage, match="fault in this product"):
        from_mime(eml())
    assert "from_mime could not read a message" in caplog.text


def test_a_message_over_the_size_limit_is_refused() -> None:
    with pytest.raises(UnreadableMessage, match="50 MB"):
        from_mime(b"x" * (MAX_RAW_BYTES + 1))


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: hi\r\n\r\nplain text",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 2048,
    ],
)
def test_what_is_not_an_outlook_file_is_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(UnreadableMessage):
        from_msg(raw)


@pytest.mark.parametrize("path", corpus_params())
def test_a_damaged_copy_is_read_or_refused_never_crashes(path: Path) -> None:
    """Cut and corrupted copies of each corpus file, the same ones on every run."""
    raw = path.read_bytes()
    step = max(1, len(raw) // 7)
    damaged = [raw[:cut] for cut in range(step, len(raw), step)]
    damaged += [
        raw[:at] + b"\xff\x00=?--\r\n" + raw[at + 9 :]
        for at in range(0, len(raw), step)
    ]
    for data in damaged:
        try:
            assert_well_formed(reader_for(path)(data))
        except UnreadableMessage as error:
            assert error.reason


# Graph and the pane


def pane_item(**overrides: Any) -> dict[str, Any]:
    return {
        "rest_id": "AAMk1",
        "internet_message_id": "<3@example.com>",
        "conversation_id": "AAQk1",
        "subject": "Plan renewal",
        "from": None,
        "to": [{"address": "Bob@Example.com", "name": "Bob"}],
        "cc": [],
        "sent_at": None,
        "body_html": '<p>See <a href="javascript:x()">this</a></p>',
        "attachments": [],
        **overrides,
    }


def test_the_panes_item_with_missing_fields_is_read() -> None:
    message = from_graph(CaptureDraft.of({"item": pane_item()}).graph_message())

    assert message.sender is None
    assert message.sent_at is None
    assert message.to[0].address == "bob@example.com"
    assert message.conversation_id == "AAQk1"
    assert message.body_text == "See this"
    assert "javascript" not in message.body_html


def test_the_panes_plain_text_item_is_read() -> None:
    item = pane_item(body_html=None, body_text="Line one\r\nLine two")

    message = from_graph(CaptureDraft.of({"item": item}).graph_message())

    assert message.body_text == "Line one\nLine two"
    assert message.body_html == ""


def test_a_graph_message_is_read_whole() -> None:
    message = from_graph(
        {
            "internetMessageId": "<4@example.com>",
            "conversationId": "AAQk2",
            "subject": "Renewal",
            "from": {"emailAddress": {"address": "ann@example.com", "name": "Ann"}},
            "toRecipients": [{"emailAddress": {"address": "bob@example.com"}}],
            "ccRecipients": [
                {"emailAddress": {"address": "cy@example.com", "name": "Cy"}}
            ],
            "sentDateTime": "2024-05-06T07:30:00Z",
            "body": {"contentType": "html", "content": "<p>Hi</p>"},
            "attachments": [
                {"name": "a.pdf", "contentType": "application/pdf", "size": 10},
                {
                    "name": "logo.png",
                    "contentType": "image/png",
                    "size": 5,
                    "isInline": True,
                },
            ],
        }
    )

    assert message.sender is not None
    assert (message.sender.display_name, message.sender.address) == (
        "Ann",
        "ann@example.com",
    )
    assert [p.address for p in message.cc] == ["cy@example.com"]
    assert message.sent_at == datetime(2024, 5, 6, 7, 30, tzinfo=UTC)
    assert [(a.name, a.is_inline) for a in message.attachments] == [
        ("a.pdf", False),
        ("logo.png", True),
    ]
    assert message.defects == []


@pytest.mark.parametrize(
    "message",
    [
        {},
        {
            "subject": None,
            "from": "ann",
            "toRecipients": "bob",
            "body": [],
            "attachments": {},
        },
        {
            "sentDateTime": "yesterday",
            "subject": 7,
            "attachments": [None, {"size": "x"}],
        },
        {
            "subject": "bad \ud800 text \x00",
            "body": {"contentType": "text", "content": "\udfff"},
        },
    ],
)
def test_odd_graph_json_never_raises(message: dict[str, Any]) -> None:
    assert_well_formed(from_graph(message))


def test_what_is_not_a_graph_message_is_refused() -> None:
    with pytest.raises(UnreadableMessage):
        from_graph(["not", "a", "message"])  # type: ignore[arg-type]
