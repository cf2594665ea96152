"""Maintenance > Users and rights: security groups with their rights, and users with
their groups. Every page needs Administer Users."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from interactions.errors import Conflict, Invalid, NotFound
from interactions.models import Right, User
from interactions.services import security
from interactions.services.access import Actor, require_right
from interactions.services.security import GroupFields, UserFields
from web.context import db
from web.page import Page
from web.pages import page_actor, requires_sign_in

blueprint = Blueprint("security", __name__, url_prefix="/maintenance/security")


@blueprint.get("/groups")
@requires_sign_in
def groups(actor: Actor) -> Page:
    require_right(actor, Right.ADMINISTER_USERS)
    return render_template("groups.html", groups=security.list_groups(db(), actor))


@blueprint.route("/groups/new", methods=["GET", "POST"])
@requires_sign_in
def add_group(actor: Actor) -> Page:
    require_right(actor, Right.ADMINISTER_USERS)
    if request.method == "GET":
        return _group_form(GroupFields(name="", rights=[]))

    fields = _group_fields(request.form)
    try:
        added = security.create_group(db(), actor, fields)
    except (Invalid, Conflict) as refused:
        return _group_form(fields, refused), refused.status

    db().commit()
    flash(f"Security group “{added.name}” added.")
    return redirect(url_for("security.groups"))


@blueprint.route("/groups/<int:group_id>", methods=["GET", "POST"])
@requires_sign_in
def edit_group(actor: Actor, group_id: int) -> Page:
    require_right(actor, Right.ADMINISTER_USERS)
    if request.method == "GET":
        shown = security.get_group(db(), actor, group_id)
        rights = [right.value for right in security.rights_of(shown)]
        return _group_form(GroupFields(shown.name, rights), group_id=group_id)

    fields = _group_fields(request.form)
    try:
        changed = security.update_group(db(), actor, group_id, fields)
    except (Invalid, Conflict) as refused:
        return _group_form(fields, refused, group_id), refused.status

    db().commit()
    flash(f"Security group “{changed.name}” saved.")
    return _back_to("security.groups")


@blueprint.get("/users")
@requires_sign_in
def users(actor: Actor) -> Page:
    require_right(actor, Right.ADMINISTER_USERS)
    return render_template("users.html", users=security.list_users(db(), actor))


@blueprint.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires_sign_in
def edit_user(actor: Actor, user_id: int) -> Page:
    require_right(actor, Right.ADMINISTER_USERS)
    user = security.get_user(db(), actor, user_id)
    if request.method == "GET":
        shown = UserFields([group.id for group in user.security_groups], user.is_active)
        return _user_form(actor, user, shown)

    fields = _user_fields(request.form)
    try:
        security.update_user(db(), actor, user_id, fields)
    except (Invalid, Conflict) as refused:
        return _user_form(actor, user, fields, refused), refused.status

    db().commit()
    # Decided before flashing: it clears the session of a person who deactivated
    # themselves.
    back = _back_to("security.users")
    flash(f"User “{user.name}” saved.")
    return back


def _back_to(endpoint: str) -> BaseResponse:
    """The list, or home when the change took the person's own right away."""
    now = page_actor()
    if now is None or Right.ADMINISTER_USERS not in now.rights:
        return redirect(url_for("pages.home"))

    return redirect(url_for(endpoint))


def _group_fields(form: Any) -> GroupFields:
    return GroupFields(name=form.get("name", ""), rights=form.getlist("rights"))


def _user_fields(form: Any) -> UserFields:
    values: list[str] = form.getlist("groups")
    for value in values:
        if not value.isdigit():
            raise NotFound(f"No security group has the id {value}.")

    return UserFields(
        group_ids=[int(value) for value in values],
        is_active=form.get("is_active") == "on",
    )


def _group_form(
    fields: GroupFields,
    refused: Invalid | Conflict | None = None,
    group_id: int | None = None,
) -> str:
    return render_template(
        "group_form.html",
        values=fields,
        errors=_errors(refused, "name"),
        rights=list(Right),
        group_id=group_id,
    )


def _user_form(
    actor: Actor,
    user: User,
    fields: UserFields,
    refused: Invalid | Conflict | None = None,
) -> str:
    return render_template(
        "user_form.html",
        user=user,
        values=fields,
        errors=_errors(refused, "groups"),
        groups=security.list_groups(db(), actor),
    )


def _errors(refused: Invalid | Conflict | None, default: str) -> dict[str, str]:
    if refused is None:
        return {}

    return {refused.field or default: refused.message}
