"""Every operation that changes something refuses a user without its right (403,
naming the right), and changes nothing."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interactions.models import AuditEvent
from tests.conftest import ApiClient, Factory, openapi_document
from tests.test_imports import eml
from tests.test_resends import email

pytestmark = pytest.mark.security

#: (method, path, body, the right it needs); ids come from the caller's own firm.
CHANGES: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/v1/captures", "capture", "Add/Edit Interaction"),
    ("POST", "/api/v1/imports", "file", "Add/Edit Interaction"),
    (
        "POST",
        "/api/v1/interaction-types",
        {"base_name": "Meeting", "display_name": "Board meeting"},
        "Maintain List Values",
    ),
    (
        "PATCH",
        "/api/v1/interaction-types/{type}",
        {"is_active": False},
        "Maintain List Values",
    ),
    ("POST", "/api/v1/interactions", "interaction", "Add/Edit Interaction"),
    (
        "PATCH",
        "/api/v1/interactions/{interaction}",
        {"title": "x"},
        "Add/Edit Interaction",
    ),
    ("DELETE", "/api/v1/interactions/{interaction}", None, "Delete Interaction"),
    (
        "POST",
        "/api/v1/interactions/{interaction}/links",
        "link",
        "Add/Edit Interaction",
    ),
    (
        "DELETE",
        "/api/v1/interactions/{interaction}/links?record_type=plan&record_id={plan}",
        None,
        "Add/Edit Interaction",
    ),
    (
        "POST",
        "/api/v1/interactions/{interaction}/participants",
        {"role": "To", "address": "a@b.test"},
        "Add/Edit Interaction",
    ),
    (
        "PATCH",
        "/api/v1/interactions/{interaction}/participants/{participant}",
        {"role": "Cc"},
        "Add/Edit Interaction",
    ),
    (
        "DELETE",
        "/api/v1/interactions/{interaction}/participants/{participant}",
        None,
        "Add/Edit Interaction",
    ),
    (
        "POST",
        "/api/v1/interactions/{interaction}/resend",
        {},
        "Add/Edit Interaction",
    ),
    ("DELETE", "/api/v1/contacts/{contact}", None, "Delete Contact"),
]


def test_every_changing_operation_is_swept() -> None:
    """A new operation that changes something joins the sweep, or this fails."""
    swept = {
        (method, re.sub(r"\{(\w+)\}", r"{\1_id}", path.split("?")[0]))
        for method, path, _, _ in CHANGES
    }
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
        if method != "get" and not path.endswith("/file-exchanges")
    }

    assert documented - swept == set()


@pytest.mark.parametrize(
    ("method", "template", "body", "right"),
    CHANGES,
    ids=[f"{m} {p}" for m, p, _, _ in CHANGES],
)
def test_a_user_without_the_right_is_refused_and_nothing_changes(
    api: ApiClient,
    make: Factory,
    db: Session,
    method: str,
    template: str,
    body: Any,
    right: str,
) -> None:
    plan = make.plan(make.client())
    interaction = email(make)
    interaction.links.clear()
    contact = make.contact(emails=("dana.rivera@northwind.test",))
    email_type = make.type("Email")
    db.flush()
    ids = {
        "plan": plan.id,
        "interaction": interaction.id,
        "participant": interaction.participants[0].id,
        "contact": contact.id,
        "type": email_type.id,
    }
    bodies = {
        "capture": {
            "item": {"subject": "Hi", "body_text": "Hello"},
            "type_id": email_type.id,
            "title": "Hi",
        },
        "interaction": {"type_id": email_type.id, "title": "Called"},
        "link": {"record_type": "plan", "record_id": plan.id},
    }
    audits = db.scalar(select(func.count()).select_from(AuditEvent))
    path = template.format(**ids)

    for handle in ("reader", "deleter" if "Delete" not in right else "editor"):
        if body == "file":
            response = api.call(
                method,
                path,
                handle,
                data={"file": (io.BytesIO(eml()), "loan.eml")},
                content_type="multipart/form-data",
            )
        else:
            response = api.call(
                method,
                path,
                handle,
                json=bodies[body] if isinstance(body, str) else body,
            )

        assert response.status_code == 403, (handle, response.json)
        assert right in response.json["error"]["message"], handle
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == audits
