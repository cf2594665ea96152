"""Demo mail for the simulated mailboxes: real MIME messages, built with ``email``.

Every demo user gets the same year of correspondence with a pension firm's clients,
addressed to them: threads, HTML with an inline logo, attachments, a correspondent
who writes from two addresses, and a subject that is not ASCII. The messages are the
same on every start (their Message-IDs, and so the Graph ids made from them, are
stable); only their dates follow the clock, so that they stay recent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

#: The people who write to the demo users: (display name, address, company). One
#: person writes from two addresses; the demo firm has a contact for each person.
DEMO_CORRESPONDENTS: list[tuple[str, str, str]] = [
    ("Dana Rivera", "dana.rivera@northwind.example", "Northwind Traders"),
    ("Dana Rivera", "dana.rivera.home@mailbox.example", "Northwind Traders"),
    ("Marcus Chen", "marcus.chen@contoso-mfg.example", "Contoso Manufacturing"),
    ("Priya Natarajan", "pnatarajan@fabrikamdental.example", "Fabrikam Dental Group"),
    ("José Álvarez", "jose@alvarezbakery.example", "Álvarez Family Bakery"),
    ("Grace O'Neill", "grace.oneill@tailspin.example", "Tailspin Logistics"),
]

_DANA, _DANA_HOME, _MARCUS, _PRIYA, _JOSE, _GRACE = (
    Address(name, *address.split("@")) for name, address, _ in DEMO_CORRESPONDENTS
)
_CONTOSO_CFO = Address("Helen Park", "helen.park", "contoso-mfg.example")

#: A 1x1 PNG: the "logo" an HTML message shows inline.
_LOGO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5d8d2"
    "340000000049454e44ae426082"
)


def _pdf(title: str) -> bytes:
    """A small, well-formed PDF with one line of text."""
    text = title.encode("latin-1", "replace")
    stream = b"BT /F1 14 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class DemoMessage:
    """One message of the demo correspondence; ``me`` stands for the mailbox owner."""

    key: str
    days_ago: float
    sender: Address | None
    to: tuple[Address | None, ...]
    subject: str
    text: str
    html: str | None = None
    cc: tuple[Address, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: The key of the message this one answers, for threads.
    reply_to: str | None = None
    has_inline_logo: bool = False

    @property
    def is_sent_by_owner(self) -> bool:
        return self.sender is None


@dataclass
class BuiltMessage:
    mime: bytes
    is_sent_by_owner: bool
    received_at: datetime
    references: list[str] = field(default_factory=list)


_CENSUS = Attachment(
    "Northwind 2025 census.csv",
    "text/csv",
    b"employee_id,name,hire_date,hours_2025,compensation_2025\r\n"
    b"1001,Ada Lovelace,2019-03-04,2080,84000\r\n"
    b"1002,Alan Turing,2024-11-18,640,21500\r\n"
    b"1003,Grace Hopper,2021-06-01,1960,91000\r\n",
)
_CENSUS_FIXED = Attachment(
    "Northwind 2025 census (corrected).xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    b"PK\x03\x04" + hashlib.sha256(b"census").digest() * 8,
)
_AMENDMENT = Attachment(
    "Fabrikam LTPT amendment draft.pdf",
    "application/pdf",
    _pdf("Fabrikam Dental Group 401(k) Plan - LTPT amendment (draft)"),
)
_AMENDMENT_SIGNED = Attachment(
    "Fabrikam LTPT amendment signed.pdf",
    "application/pdf",
    _pdf("Fabrikam Dental Group 401(k) Plan - LTPT amendment (signed)"),
)
_PAYROLL = Attachment(
    "Panaderia Alvarez payroll 2025-12-15.csv",
    "text/csv",
    "empleado,salario,aportación,préstamo\r\n"
    "María Gómez,2150.00,107.50,0.00\r\n"
    "Luis Peña,1980.00,99.00,45.10\r\n".encode(),
)
_CHECKLIST = Attachment(
    "Year-end data checklist.pdf", "application/pdf", _pdf("Year-end data checklist")
)
_QUESTIONNAIRE = Attachment(
    "Plan sponsor questionnaire.docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    b"PK\x03\x04" + hashlib.sha256(b"questionnaire").digest() * 6,
)

DEMO_MESSAGES: tuple[DemoMessage, ...] = (
    DemoMessage(
        "census",
        150,
        _DANA,
        (None,),
        "Northwind 401(k): 2025 census data",
        "Hi,\n\nAttached is our employee census for the 2025 plan year. Let me know "
        "if you need anything else for the testing.\n\nThanks,\nDana Rivera\n"
        "HR Director, Northwind Traders\n",
        attachments=(_CENSUS,),
    ),
    DemoMessage(
        "census-reply",
        149,
        None,
        (_DANA,),
        "RE: Northwind 401(k): 2025 census data",
        "Hi Dana,\n\nThank you. Alan Turing shows 640 hours; could you confirm his "
        "hire date? If it is right he is a long-term part-time employee for 2025.\n\n"
        "Best regards\n",
        reply_to="census",
    ),
    DemoMessage(
        "census-fixed",
        147,
        _DANA_HOME,
        (None,),
        "RE: Northwind 401(k): 2025 census data",
        "Sending from my personal address, the office mail is down today.\n\n"
        "His hire date was wrong; the corrected file is attached.\n\nDana\n",
        attachments=(_CENSUS_FIXED,),
        reply_to="census-reply",
    ),
    DemoMessage(
        "adp-acp",
        120,
        _MARCUS,
        (None,),
        "Contoso Manufacturing: ADP/ACP testing results",
        "Hello,\n\nThe board would like to understand the ADP/ACP results before "
        "the refund deadline. Could we go through them on a call?\n\nMarcus Chen\n"
        "Controller, Contoso Manufacturing\n",
        html=(
            "<html><body><p>Hello,</p><p>The board would like to understand the "
            "<b>ADP/ACP results</b> before the refund deadline:</p>"
            "<table border='1'><tr><th>Test</th><th>HCE</th><th>NHCE</th></tr>"
            "<tr><td>ADP</td><td>6.1%</td><td>3.2%</td></tr>"
            "<tr><td>ACP</td><td>4.0%</td><td>2.9%</td></tr></table>"
            "<p>Could we go through them on a call?</p>"
            "<p>Marcus Chen<br>Controller, Contoso Manufacturing</p></body></html>"
        ),
        cc=(_CONTOSO_CFO,),
    ),
    DemoMessage(
        "adp-acp-follow-up",
        118,
        _MARCUS,
        (None,),
        "RE: Contoso Manufacturing: ADP/ACP testing results",
        "Thursday at 2 pm works for Helen and me. We will dial in.\n\nMarcus\n",
        cc=(_CONTOSO_CFO,),
        reply_to="adp-acp",
    ),
    DemoMessage(
        "safe-harbor",
        96,
        _MARCUS,
        (None,),
        "Safe harbor notice due date",
        "Quick question: when does the safe harbor notice for 2026 have to go out "
        "to employees? We want to mail it with the open enrollment packet.\n\n"
        "Marcus\n",
    ),
    DemoMessage(
        "ltpt-amendment",
        80,
        _PRIYA,
        (None,),
        "Fabrikam Dental: plan amendment for long-term part-time employees",
        "Good morning,\n\nPlease find the draft amendment attached. Our counsel "
        "asked whether the vesting provisions need to change as well.\n\n"
        "Priya Natarajan\nPractice Manager, Fabrikam Dental Group\n",
        html=(
            "<html><body><p>Good morning,</p><p>Please find the draft amendment "
            "attached. Our counsel asked whether the <i>vesting provisions</i> "
            "need to change as well.</p><p>Priya Natarajan<br>Practice Manager, "
            "Fabrikam Dental Group</p></body></html>"
        ),
        attachments=(_AMENDMENT,),
    ),
    DemoMessage(
        "ltpt-answer",
        79,
        None,
        (_PRIYA,),
        "RE: Fabrikam Dental: plan amendment for long-term part-time employees",
        "Hi Priya,\n\nYes: LTPT employees earn vesting service for each year with "
        "500 hours. I marked the section in the draft; please have it signed and "
        "send it back.\n\nBest regards\n",
        reply_to="ltpt-amendment",
    ),
    DemoMessage(
        "ltpt-signed",
        72,
        _PRIYA,
        (None,),
        "RE: Fabrikam Dental: plan amendment for long-term part-time employees",
        "Signed copy attached. Thank you for the quick turnaround!\n\nPriya\n",
        attachments=(_AMENDMENT_SIGNED,),
        reply_to="ltpt-answer",
    ),
    DemoMessage(
        "aportaciones",
        60,
        _JOSE,
        (None,),
        "Aportaciones de diciembre \N{EN DASH} Panadería Álvarez 401(k)",
        "Buenos días:\n\nLas aportaciones de diciembre se depositaron ayer. "
        "¿Podrían confirmar que llegaron a la cuenta del plan?\n\n"
        "Gracias,\nJosé Álvarez\n",
    ),
    DemoMessage(
        "form-5500",
        45,
        _GRACE,
        (None,),
        "Form 5500 signature \N{EN DASH} Tailspin Logistics",
        "Hello,\n\nOur CFO signed the Form 5500 electronically this morning. Please "
        "let me know when it has been accepted.\n\nGrace O'Neill\n"
        "Benefits Manager, Tailspin Logistics\n",
        html=(
            "<html><body><p><img src='cid:{logo}' alt='Tailspin Logistics'></p>"
            "<p>Hello,</p><p>Our CFO signed the <b>Form 5500</b> electronically "
            "this morning. Please let me know when it has been accepted.</p>"
            "<p>Grace O'Neill<br>Benefits Manager, Tailspin Logistics</p>"
            "</body></html>"
        ),
        has_inline_logo=True,
    ),
    DemoMessage(
        "loan-request",
        30,
        _GRACE,
        (None,),
        "Loan request for an employee",
        "One of our drivers asked about a hardship loan of $8,000. Is that allowed "
        "under our plan, and what paperwork does he need?\n\nGrace\n",
    ),
    DemoMessage(
        "fee-disclosure",
        21,
        _DANA,
        (None,),
        "Question about the 408(b)(2) fee disclosure",
        "Hi,\n\nOur CFO is reviewing the 408(b)(2) disclosure and asked what the "
        "per-participant fee covers. Could you send a short summary?\n\nDana\n",
        html=(
            "<html><body><p>Hi,</p><p>Our CFO is reviewing the <b>408(b)(2)</b> "
            "disclosure and asked what the per-participant fee covers.</p>"
            "<ul><li>Recordkeeping?</li><li>Compliance testing?</li>"
            "<li>Form 5500 preparation?</li></ul>"
            "<p>Could you send a short summary?</p><p>Dana</p></body></html>"
        ),
    ),
    DemoMessage(
        "payroll",
        12,
        _JOSE,
        (None,),
        "Payroll file for the 15th",
        "Attached is the payroll file for December 15. Two employees started a "
        "loan repayment this period.\n\nJosé\n",
        attachments=(_PAYROLL,),
    ),
    DemoMessage(
        "year-end",
        3,
        _GRACE,
        (None,),
        "Year-end data request checklist",
        "Hello,\n\nThank you for the year-end package. I have attached the "
        "checklist with our answers and the completed questionnaire.\n\nGrace\n",
        attachments=(_CHECKLIST, _QUESTIONNAIRE),
    ),
)


def message_id(owner_email: str, key: str, sender: Address) -> str:
    digest = hashlib.sha256(f"{owner_email.lower()}|{key}".encode()).hexdigest()
    return f"<{digest[:24]}@{sender.domain}>"


def demo_mail(
    owner_name: str, owner_email: str, now: datetime | None = None
) -> list[BuiltMessage]:
    """The demo correspondence of one mailbox owner, oldest first."""
    now = now or datetime.now(UTC)
    owner = Address(owner_name, *owner_email.split("@"))
    ids: dict[str, str] = {}
    chains: dict[str, list[str]] = {}
    built: list[BuiltMessage] = []
    for demo in DEMO_MESSAGES:
        sender = demo.sender or owner
        ids[demo.key] = message_id(owner_email, demo.key, sender)
        references = []
        if demo.reply_to is not None:
            references = [*chains[demo.reply_to], ids[demo.reply_to]]
        chains[demo.key] = references

        sent_at = now - timedelta(days=demo.days_ago, hours=len(built) % 7)
        mime = _mime(demo, owner, ids[demo.key], references, sent_at)
        built.append(
            BuiltMessage(
                mime,
                demo.is_sent_by_owner,
                sent_at + timedelta(seconds=4),
                references,
            )
        )

    return built


def _mime(
    demo: DemoMessage,
    owner: Address,
    internet_message_id: str,
    references: list[str],
    sent_at: datetime,
) -> bytes:
    message = EmailMessage()
    message["From"] = demo.sender or owner
    message["To"] = [address or owner for address in demo.to]
    if demo.cc:
        message["Cc"] = list(demo.cc)
    message["Subject"] = demo.subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = internet_message_id
    if references:
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)
    message["MIME-Version"] = "1.0"

    message.set_content(demo.text)
    if demo.html is not None:
        _add_html(message, demo, internet_message_id)
    for attachment in demo.attachments:
        maintype, subtype = attachment.content_type.split("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
        )

    return message.as_bytes(policy=policy.SMTP)


def _add_html(message: EmailMessage, demo: DemoMessage, message_id: str) -> None:
    html = demo.html or ""
    if not demo.has_inline_logo:
        message.add_alternative(html, subtype="html")
        return

    logo_id = f"logo.{message_id.strip('<>')}"
    message.add_alternative(html.format(logo=logo_id), subtype="html")
    parts = message.get_payload()
    assert isinstance(parts, list)
    html_part = parts[-1]
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(
        _LOGO_PNG,
        maintype="image",
        subtype="png",
        cid=f"<{logo_id}>",
        filename="logo.png",
        disposition="inline",
    )
