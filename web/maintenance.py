"""Maintenance > List Values > Interaction: the firm's interaction types.

Types are deactivated, never deleted: an inactive type stays on old interactions and
drops out of the pickers. A type's roles, one a line, are what its participants may
be, in the order the slider offers them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from interactions.errors import Conflict, Invalid
from interactions.models import BaseName, InteractionType, Right
from interactions.services import interaction_types
from interactions.services.access import Actor, get_owned, require_right
from interactions.services.interaction_types import TypeFields
from web.context import db
from web.page import Page
from web.pages import requires_sign_in

blueprint = Blueprint("maintenance", __name__, url_prefix="/maintenance/list-values")


@blueprint.get("/interaction")
@requires_sign_in
def types(actor: Actor) -> Page:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    return render_template(
        "types.html", types=interaction_types.list_types(db(), actor)
    )


@blueprint.route("/interaction/new", methods=["GET", "POST"])
@requires_sign_in
def add_type(actor: Actor) -> Page:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    if request.method == "GET":
        return _form({"is_active": True, "roles": ""})

    try:
        added = interaction_types.create_type(db(), actor, _fields(request.form))
    except (Invalid, Conflict) as refused:
        return _form(request.form, refused), refused.status

    db().commit()
    flash(f"Interaction type “{added.display_name}” added.")
    return redirect(url_for("maintenance.types"))


@blueprint.route("/interaction/<int:type_id>", methods=["GET", "POST"])
@requires_sign_in
def edit_type(actor: Actor, type_id: int) -> Page:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    if request.method == "GET":
        shown = get_owned(db(), InteractionType, type_id, actor)
        values = {
            "base_name": shown.base_name.value,
            "display_name": shown.display_name,
            "description": shown.description,
            "is_active": shown.is_active,
            "roles": "\n".join(shown.roles),
        }
        return _form(values, type_id=type_id)

    try:
        changed = interaction_types.update_type(
            db(), actor, type_id, _fields(request.form)
        )
    except (Invalid, Conflict) as refused:
        return _form(request.form, refused, type_id), refused.status

    db().commit()
    flash(f"Interaction type “{changed.display_name}” saved.")
    return redirect(url_for("maintenance.types"))


def _fields(form: Any) -> TypeFields:
    return TypeFields(
        base_name=form.get("base_name") or None,
        display_name=form.get("display_name", ""),
        description=form.get("description", ""),
        is_active=form.get("is_active") == "on",
        roles=[
            line.strip() for line in form.get("roles", "").splitlines() if line.strip()
        ],
    )


def _form(
    values: Any, refused: Invalid | Conflict | None = None, type_id: int | None = None
) -> str:
    field = getattr(refused, "field", None) or "display_name"
    return render_template(
        "type_form.html",
        values=values,
        errors={field: refused.message} if refused else {},
        base_names=[name.value for name in BaseName],
        type_id=type_id,
    )
