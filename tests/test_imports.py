"""Drag-and-drop import: a dropped email file becomes a draft, then a capture."""

from __future__ import annotations

import io
import re
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from interactions.mail.mime import OLE_SIGNATURE
from interactions.models import AuditEvent, Capture, Interaction, Source
from interactions.services.capture_processing import process_capture
from tests.browsing import Browser
from tests.conftest import ApiClient, Factory
from tests.test_mail import CORPUS, CORPUS_MISSING

MESSAGE_ID = "<loan-2026@northwind.test>"


def eml(**headers: str) -> bytes:
    message = EmailMessage()
    message["Message-ID"] = MESSAGE_ID
    message["Subject"] = "Loan request for R. Chen"
    message["From"] = "Dana Rivera <dana.rivera@northwind.test>"
    message["To"] = "Admin <admin@acme.test>"
    message["Cc"] = "Payroll <payroll@northwind.test>"
    message["Date"] = "Mon, 30 Nov 2026 14:05:00 +0000"
    for name, value in headers.items():
        del message[name]
        message[name] = value
    message.set_content("Please process the loan.")
    message.add_alternative("<p>Please process the <b>loan</b>.</p>", subtype="html")
    message.add_attachment(
        b"x" * 1200, maintype="application", subtype="pdf", filename="loan.pdf"
    )
    return message.as_bytes()


def upload(
    api: ApiClient,
    content: bytes,
    name: str = "loan.eml",
    query: str = "",
    as_: str = "admin",
) -> Any:
    return api.call(
        "POST",
        f"/api/v1/imports{query}",
        as_,
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_a_dropped_file_becomes_a_prefilled_draft_and_nothing_is_stored(
    api: ApiClient, make: Factory, db: Session
) -> None:
    client = make.client()
    plan = make.plan(client)
    dana = make.contact(emails=("Dana.Rivera@northwind.test",))
    make.contact("Chen", "Pat", emails=("payroll@northwind.test",))
    make.contact("Okafor", "Ada", emails=("payroll@northwind.test",))
    email_type = make.type("Email")

    response = upload(api, eml(), query=f"?record=plan:{plan.id}")

    assert response.status_code == 200, response.json
    draft = response.json
    assert draft["type_id"] == email_type.id
    assert draft["title"] == "Loan request for R. Chen"
    assert draft["occurred_at"].startswith("2026-11-30T14:05:00")
    assert (draft["is_logged"], draft["interaction_id"]) == (False, None)
    assert draft["links"] == [{"record_type": "plan", "record_id": plan.id}]
    people = {p["address"]: p for p in draft["participants"]}
    assert people["dana.rivera@northwind.test"]["role"] == "From"
    assert people["dana.rivera@northwind.test"]["contact_id"] == dana.id
    payroll = people["payroll@northwind.test"]
    assert payroll["contact_id"] is None
    assert {c["name"] for c in payroll["candidates"]} == {"Pat Chen", "Ada Okafor"}
    assert draft["attachments"][0]["name"] == "loan.pdf"
    assert "<b>loan</b>" in draft["item"]["body_html"]
    assert db.scalar(select(func.count()).select_from(Capture)) == 0
    assert db.scalar(select(func.count()).select_from(Interaction)) == 0


def test_a_message_already_logged_says_where(
    api: ApiClient, make: Factory, db: Session
) -> None:
    logged = make.interaction(make.plan(make.client()))
    logged.internet_message_id = MESSAGE_ID
    db.flush()

    draft = upload(api, eml()).json

    assert (draft["is_logged"], draft["interaction_id"]) == (True, logged.id)


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("notes.pdf", b"%PDF-1.7", "is not an email file"),
        ("empty.eml", b"", "cannot be read"),
        ("photo.eml", b"\x89PNG\r\n\x1a\n\x00\x00", "has no mail headers"),
        ("damaged.msg", OLE_SIGNATURE + b"junk" * 100, "is damaged"),
    ],
)
def test_a_file_that_cannot_be_read_gets_a_clear_message(
    api: ApiClient, name: str, content: bytes, said: str
) -> None:
    response = upload(api, content, name)

    assert response.status_code == 422
    assert response.json["error"]["field"] == "file"
    assert said in response.json["error"]["message"]
    assert name in response.json["error"]["message"]


def test_an_import_without_a_file_is_refused(api: ApiClient) -> None:
    response = api.call(
        "POST", "/api/v1/imports", data={}, content_type="multipart/form-data"
    )

    assert response.status_code == 422
    assert response.json["error"]["field"] == "file"


def test_the_record_must_be_linkable_and_the_firms_own(
    api: ApiClient, make: Factory
) -> None:
    client = make.client()
    theirs = make.plan(make.client(firm="Bright Benefits"))

    assert upload(api, eml(), query=f"?record=client:{client.id}").status_code == 422
    assert upload(api, eml(), query=f"?record=plan:{theirs.id}").status_code == 404


def test_importing_needs_the_add_edit_right(api: ApiClient) -> None:
    response = upload(api, eml(), as_="reader")

    assert response.status_code == 403
    assert "Add/Edit Interaction" in response.json["error"]["message"]


@pytest.mark.skipif(not (CORPUS / "msg").is_dir(), reason=CORPUS_MISSING)
def test_an_outlook_msg_file_is_read(api: ApiClient, make: Factory) -> None:
    make.type("Email")
    path = CORPUS / "msg" / "sicos-msgreader__EmailWithAttachments.msg"

    draft = upload(api, path.read_bytes(), path.name).json

    assert draft["title"]
    assert draft["attachments"]


def test_the_draft_captured_is_stored_as_a_file_import(
    api: ApiClient, make: Factory, db: Session, sessions: sessionmaker[Session]
) -> None:
    plan = make.plan(make.client())
    make.type("Email")
    draft = upload(api, eml(), query=f"?record=plan:{plan.id}").json

    response = api.post(
        "/api/v1/captures",
        {
            "item": draft["item"],
            "source": "file_import",
            "type_id": draft["type_id"],
            "title": draft["title"],
            "links": draft["links"],
        },
    )

    assert response.status_code == 202, response.json
    capture = db.get_one(Capture, response.json["id"])
    process_capture(sessions, capture.id, no_mailbox)
    db.refresh(capture)
    interaction = db.get_one(Interaction, capture.interaction_id)
    assert interaction.source is Source.FILE_IMPORT
    assert interaction.internet_message_id == MESSAGE_ID
    assert [a["name"] for a in interaction.attachments] == ["loan.pdf"]
    audit = db.scalars(
        select(AuditEvent).where(
            AuditEvent.record_type == "interaction",
            AuditEvent.record_id == interaction.id,
        )
    ).one()
    assert audit.action == "create"
    assert audit.details["source"] == "file_import"


def no_mailbox(session: Session, user_id: int) -> Any:
    raise AssertionError("an imported message needs no mailbox")


# -- the admin page's scripts call it with their session ------------------------------


def csrf_of(page: Any) -> str:
    found = re.search(
        r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)
    )
    assert found, "the page carries its CSRF token for its scripts"
    return found.group(1)


def test_the_page_imports_with_its_session_and_csrf_token(
    visitor: Browser, make: Factory
) -> None:
    make.type("Email")
    visitor.sign_in("admin")
    token = csrf_of(visitor.get("/"))

    def post(headers: dict[str, str]) -> Any:
        return visitor.client.post(
            "/api/v1/imports",
            data={"file": (io.BytesIO(eml()), "loan.eml")},
            headers=headers,
            base_url="https://localhost",
        )

    assert post({"X-CSRF-Token": token}).status_code == 200
    refused = post({})
    assert refused.status_code == 400
    assert refused.json["error"]["code"] == "csrf_refused"


def test_without_a_session_or_token_the_api_refuses(visitor: Browser) -> None:
    response = visitor.client.get(
        "/api/v1/search?types=plan&q=North", base_url="https://localhost"
    )

    assert response.status_code == 401


def test_the_session_reaches_only_the_operations_the_page_uses(
    visitor: Browser,
) -> None:
    visitor.sign_in("admin")
    token = csrf_of(visitor.get("/"))

    response = visitor.client.get(
        "/api/v1/me", headers={"X-CSRF-Token": token}, base_url="https://localhost"
    )

    assert response.status_code == 401
