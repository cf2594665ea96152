"""Resend on the admin page: the confirmation that lists the recipients, and the
interaction's resend history, which follows each resend until it is final."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for

from interactions.errors import Conflict
from interactions.services import resends
from interactions.services.access import Actor
from web.context import db
from web.page import Page
from web.pages import requires_sign_in
from web.signin import local_path

blueprint = Blueprint("resending", __name__)


@blueprint.route("/interactions/<int:interaction_id>/resend", methods=["GET", "POST"])
@requires_sign_in
def resend(actor: Actor, interaction_id: int) -> Page:
    back = local_path(request.values.get("back")) or url_for(
        "pages.interaction", interaction_id=interaction_id
    )
    try:
        if request.method == "POST":
            made = resends.request_resend(
                db(), actor, interaction_id, request.form.get("request_key")
            )
        else:
            resendable = resends.check_resendable(db(), actor, interaction_id)
    except Conflict as refused:
        return render_template(
            "resend.html", refused=refused.message, back=back, interaction=None
        ), refused.status

    if request.method == "GET":
        return render_template(
            "resend.html",
            interaction=resendable.interaction,
            recipients=resendable.recipients,
            request_key=str(uuid.uuid4()),
            back=back,
        )

    db().commit()
    flash(f"Resending “{made.subject}”; its history below follows it.")
    return redirect(
        url_for("pages.interaction", interaction_id=interaction_id, _anchor="resends")
    )
