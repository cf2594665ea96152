"""Maintenance > List Values > Blast Email templates: the firm's templates.

A template's name is unique in the firm; its subject and body may name merge fields
(``interactions.mail.merge``), and one that names a field that does not exist is
refused with the list of those that do. Templates are deactivated, never deleted:
a blast keeps the subject and body it sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid
from interactions.mail import merge
from interactions.models import BlastTemplate, Right
from interactions.models._types import utcnow
from interactions.services import audit
from interactions.services.access import Actor, get_owned, require_right

NAME_MAX = 100
SUBJECT_MAX = 300
BODY_MAX = 100_000


@dataclass(frozen=True)
class TemplateFields:
    name: str
    subject: str
    body: str
    is_html: bool = False
    is_active: bool = True


def list_templates(
    session: Session, actor: Actor, active_only: bool = False
) -> list[BlastTemplate]:
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    query = select(BlastTemplate).where(BlastTemplate.firm_id == actor.firm_id)
    if active_only:
        query = query.where(BlastTemplate.is_active)

    return list(session.scalars(query.order_by(func.lower(BlastTemplate.name))))


def get_template(session: Session, actor: Actor, template_id: int) -> BlastTemplate:
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    return get_owned(session, BlastTemplate, template_id, actor)


def create_template(
    session: Session, actor: Actor, fields: TemplateFields
) -> BlastTemplate:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    template = BlastTemplate(
        firm_id=actor.firm_id,
        created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
    )
    _apply(session, template, fields)
    session.add(template)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "blast_template",
        template.id,
        details={"name": template.name},
    )

    return template


def update_template(
    session: Session, actor: Actor, template_id: int, fields: TemplateFields
) -> BlastTemplate:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    template = get_owned(session, BlastTemplate, template_id, actor)
    _apply(session, template, fields)
    template.updated_by_id = actor.user_id
    template.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "update",
        "blast_template",
        template.id,
        details={"name": template.name, "is_active": template.is_active},
    )

    return template


def _apply(session: Session, template: BlastTemplate, fields: TemplateFields) -> None:
    name = fields.name.strip()
    if not name:
        raise Invalid("Name is required.", "name")
    if len(name) > NAME_MAX:
        raise Invalid(f"Name must be at most {NAME_MAX} characters.", "name")

    same_name = select(BlastTemplate.id).where(
        BlastTemplate.firm_id == template.firm_id,
        func.lower(BlastTemplate.name) == name.lower(),
    )
    if template.id is not None:
        same_name = same_name.where(BlastTemplate.id != template.id)
    if session.scalar(same_name) is not None:
        raise Conflict(
            f"Another Blast Email template is already called {name}.", "name"
        )

    subject = fields.subject.strip()
    if not subject:
        raise Invalid("Subject is required.", "subject")
    if len(subject) > SUBJECT_MAX:
        raise Invalid(f"Subject must be at most {SUBJECT_MAX} characters.", "subject")
    merge.check(subject, "subject")

    if not fields.body.strip():
        raise Invalid("Body is required.", "body")
    if len(fields.body) > BODY_MAX:
        raise Invalid(f"Body must be at most {BODY_MAX:,} characters.", "body")
    merge.check(fields.body, "body")

    template.name = name
    template.subject = subject
    template.body = fields.body
    template.is_html = fields.is_html
    template.is_active = fields.is_active
