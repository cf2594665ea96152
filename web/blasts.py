"""Blast Email on the admin page: the templates (Maintenance > List Values), a new
blast (template, recipients, preview, "Send to N contacts?") and a blast's page,
whose progress bar follows the sending and whose failed recipients can be retried.

The new blast is one form that comes back to itself: Find lists the plans, clients
or contacts matching a name, a result's button chooses it, Preview shows who gets
what, and Yes sends. It works without scripts; ``blast.js`` updates the blast's
page as its messages go.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from interactions.errors import Conflict, Invalid
from interactions.mail.merge import FIELDS
from interactions.models import Client, Contact, Plan, RecordType, Right
from interactions.services import (
    blast_progress,
    blast_recipients,
    blast_templates,
    blasts,
    records,
)
from interactions.services.access import Actor, get_owned, require_right
from interactions.services.blast_recipients import Audience, Selection
from interactions.services.blast_templates import TemplateFields
from web.context import db
from web.page import Page
from web.pages import requires_sign_in

blueprint = Blueprint("blasts", __name__)

TEMPLATES = "/maintenance/list-values/blast-email-templates"


# -- templates -------------------------------------------------------------------------


@blueprint.get(TEMPLATES)
@requires_sign_in
def templates(actor: Actor) -> Page:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    return render_template(
        "blast_templates.html",
        templates=blast_templates.list_templates(db(), actor),
    )


@blueprint.route(f"{TEMPLATES}/new", methods=["GET", "POST"])
@requires_sign_in
def add_template(actor: Actor) -> Page:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    if request.method == "GET":
        return _template_form({"is_active": True})

    try:
        added = blast_templates.create_template(db(), actor, _fields(request.form))
    except (Invalid, Conflict) as refused:
        return _template_form(request.form, refused), refused.status

    db().commit()
    flash(f"Blast Email template “{added.name}” added.")
    return redirect(url_for("blasts.templates"))


@blueprint.route(f"{TEMPLATES}/<int:template_id>", methods=["GET", "POST"])
@requires_sign_in
def edit_template(actor: Actor, template_id: int) -> Page:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    if request.method == "GET":
        shown = blast_templates.get_template(db(), actor, template_id)
        values = {
            "name": shown.name,
            "subject": shown.subject,
            "body": shown.body,
            "is_html": shown.is_html,
            "is_active": shown.is_active,
        }
        return _template_form(values, template_id=template_id)

    try:
        changed = blast_templates.update_template(
            db(), actor, template_id, _fields(request.form)
        )
    except (Invalid, Conflict) as refused:
        return _template_form(request.form, refused, template_id), refused.status

    db().commit()
    flash(f"Blast Email template “{changed.name}” saved.")
    return redirect(url_for("blasts.templates"))


def _fields(form: Any) -> TemplateFields:
    return TemplateFields(
        name=form.get("name", ""),
        subject=form.get("subject", ""),
        body=form.get("body", ""),
        is_html=form.get("is_html") == "on",
        is_active=form.get("is_active") == "on",
    )


def _template_form(
    values: Any,
    refused: Invalid | Conflict | None = None,
    template_id: int | None = None,
) -> str:
    return render_template(
        "blast_template_form.html",
        values=values,
        errors={refused.field or "name": refused.message} if refused else {},
        fields=FIELDS,
        template_id=template_id,
    )


# -- a new blast -----------------------------------------------------------------------


@dataclass(frozen=True)
class Chooser:
    """The new blast's form as it came back: the template and whom it goes to."""

    template_id: int | None
    audience: Audience
    plan_id: int | None
    client_id: int | None
    contact_ids: tuple[int, ...]
    query: str

    @classmethod
    def of(cls, values: Any) -> Chooser:
        audience = values.get("audience") or Audience.PLAN.value
        plan_id, client_id = (
            _number(values.get("plan_id")),
            _number(values.get("client_id")),
        )
        contact_ids = [_number(v) for v in values.getlist("contact_id")]
        chosen = values.get("choose", "")
        kind, _, number = chosen.partition(":")
        if number.isdigit():
            audience = {"contact": Audience.HAND}.get(kind, kind)
            if kind == "plan":
                plan_id = int(number)
            elif kind == "client":
                client_id = int(number)
            elif kind == "contact":
                contact_ids.append(int(number))
        removed = _number(values.get("remove"))
        return cls(
            template_id=_number(values.get("template_id")),
            audience=blast_recipients.parse_audience(audience),
            plan_id=plan_id,
            client_id=client_id,
            contact_ids=tuple(
                dict.fromkeys(c for c in contact_ids if c is not None and c != removed)
            ),
            query=values.get("q", "").strip(),
        )

    @property
    def selection(self) -> Selection:
        return Selection(self.audience, self.plan_id, self.client_id, self.contact_ids)


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@blueprint.route("/blasts/new", methods=["GET", "POST"])
@requires_sign_in
def new(actor: Actor) -> Page:
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    chooser = Chooser.of(request.values)
    form = request.form
    if request.method == "GET" or not ("preview" in form or "send" in form):
        return _chooser(actor, chooser)

    try:
        if "preview" in form:
            return _preview(actor, chooser)
        sent = blasts.send_blast(
            db(),
            actor,
            _template_id(chooser),
            chooser.selection,
            form.get("request_key"),
        )
    except (Invalid, Conflict) as refused:
        return _chooser(actor, chooser, refused), refused.status

    db().commit()
    count = len(sent.recipients)
    flash(f"Sending the Blast Email to {count} contact{'s' if count != 1 else ''}.")
    return redirect(url_for("blasts.blast", blast_id=sent.id))


def _template_id(chooser: Chooser) -> int:
    if chooser.template_id is None:
        raise Invalid("Choose a template.", "template_id")

    return chooser.template_id


def _preview(actor: Actor, chooser: Chooser) -> str:
    shown = blasts.preview(db(), actor, _template_id(chooser), chooser.selection)
    return render_template(
        "blast_preview.html",
        chooser=chooser,
        preview=shown,
        request_key=str(uuid.uuid4()),
    )


def _chooser(actor: Actor, chooser: Chooser, refused: Exception | None = None) -> str:
    field = getattr(refused, "field", None) or "form"
    return render_template(
        "blast_new.html",
        chooser=chooser,
        templates=blast_templates.list_templates(db(), actor, active_only=True),
        plan=get_owned(db(), Plan, chooser.plan_id, actor) if chooser.plan_id else None,
        client=(
            get_owned(db(), Client, chooser.client_id, actor)
            if chooser.client_id
            else None
        ),
        contacts=[get_owned(db(), Contact, c, actor) for c in chooser.contact_ids],
        found=_found(actor, chooser) if chooser.query else [],
        errors={field: getattr(refused, "message", "")} if refused else {},
        recent=blast_progress.recent_blasts(db(), actor),
        can_maintain=Right.MAINTAIN_LIST_VALUES in actor.rights,
    )


#: What the search looks for, by whom the blast goes to.
SEARCHED = {
    Audience.PLAN: RecordType.PLAN,
    Audience.CLIENT: RecordType.CLIENT,
    Audience.HAND: RecordType.CONTACT,
}


def _found(actor: Actor, chooser: Chooser) -> list[records.RecordSummary]:
    kind = SEARCHED[chooser.audience]
    return [
        found
        for found in records.find(db(), actor, chooser.query)
        if found.record_type is kind
    ]


# -- a blast's page --------------------------------------------------------------------


@blueprint.get("/blasts/<int:blast_id>")
@requires_sign_in
def blast(actor: Actor, blast_id: int) -> Page:
    return render_template(
        "blast.html",
        progress=blast_progress.progress(db(), actor, blast_id),
        actor=actor,
    )


@blueprint.post("/blasts/<int:blast_id>/recipients/<int:recipient_id>/retry")
@requires_sign_in
def retry(actor: Actor, blast_id: int, recipient_id: int) -> Page:
    blast_progress.retry_recipient(db(), actor, blast_id, recipient_id)
    db().commit()
    flash("Sending it again; the progress below follows it.")
    return redirect(url_for("blasts.blast", blast_id=blast_id))
