"""The admin page's reading pages: home with record search, a record's Interactions
tab, one interaction with its email, and capture health. Views parse the request,
call a service and render."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from interactions.errors import Unauthenticated
from interactions.models import (
    FINAL_STATUSES,
    CaptureStatus,
    Plan,
    Project,
    RecordType,
    Right,
    User,
)
from interactions.models._types import utcnow
from interactions.services import captures, grid, records, resends
from interactions.services.access import Actor, actor_for
from interactions.services.records import RecordRef
from web.context import db
from web.page import Page
from web.signin import USER

blueprint = Blueprint("pages", __name__)

SOURCES = {
    "manual": "Added by hand",
    "outlook_addin": "Outlook add-in",
    "file_import": "File import",
    "blast_email": "Blast Email",
    "secure_file_exchange": "Secure File Exchange",
}
SHOW_FOR_LAST_CHOICES = [
    ("1m", "1 month"),
    ("3m", "3 months"),
    ("6m", "6 months"),
    ("12m", "12 months"),
    ("24m", "24 months"),
    ("all", "All"),
]


def page_actor() -> Actor | None:
    """The signed-in person with their rights as they are now, or None."""
    user: dict[str, str] | None = session.get(USER)
    if user is None:
        return None

    try:
        actor = actor_for(db(), user["tenant_id"], user["object_id"])
    except Unauthenticated:
        # Deactivated or removed since signing in.
        session.clear()
        return None

    g.page_actor = actor  # for the menu every page shows
    return actor


def requires_sign_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view gets the actor first; without a sign-in the browser goes to get one."""

    @functools.wraps(view)
    def signed_in_view(*args: Any, **kwargs: Any) -> Any:
        actor = page_actor()
        if actor is None:
            return redirect(
                url_for("signin.sign_in", next=request.full_path.rstrip("?"))
            )

        return view(actor, *args, **kwargs)

    return signed_in_view


@blueprint.app_template_filter("source")
def source_label(value: str) -> str:
    return SOURCES.get(value, value)


@blueprint.app_template_filter("moment")
def moment(value: datetime | str) -> str:
    """A moment as people read it; ISO text as well, as a draft carries it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value).astimezone(UTC)
    return f"{value:%b %d, %Y %H:%M} UTC"


@blueprint.get("/")
def home() -> str:
    actor = page_actor()
    if actor is None:
        return render_template("welcome.html")

    query = request.args.get("q", "")
    found = records.find(db(), actor, query) if actor.has_interactions else []
    return render_template(
        "home.html",
        actor=actor,
        rights=[right.value for right in Right if right in actor.rights],
        query=query,
        found=found,
    )


@blueprint.get("/records/<kind>/<int:record_id>")
@requires_sign_in
def record(actor: Actor, kind: str, record_id: int) -> str | BaseResponse:
    ref = RecordRef(records.parse_record_type(kind), record_id)
    found = records.require_record(db(), actor, ref)
    name = records.names(db(), actor.firm_id, [ref])[ref]
    if isinstance(found, Project):
        plan = db().get_one(Plan, found.plan_id)
        return render_template("project.html", name=name, plan=plan)

    show_for_last = grid.parse_show_for_last(request.args.get("show_for_last"))
    before = request.args.get("before")
    search = request.args.get("search", "").strip()
    page = grid.record_grid(
        db(),
        actor,
        ref,
        show_for_last,
        before=grid.Cursor.decode(before) if before else None,
        search=search,
    )
    return render_template(
        "record.html",
        actor=actor,
        ref=ref,
        name=name,
        page=page,
        show_for_last=show_for_last.value,
        choices=SHOW_FOR_LAST_CHOICES,
        search=search,
        older_hidden=page.next_cursor is None
        and _older_hidden(actor, ref, show_for_last, search),
        is_roll_up=ref.record_type is RecordType.CLIENT,
        can_add=ref.record_type is not RecordType.CLIENT
        and Right.ADD_EDIT_INTERACTION in actor.rights,
        can_edit=Right.ADD_EDIT_INTERACTION in actor.rights,
        can_delete=Right.DELETE_INTERACTION in actor.rights,
        here=request.full_path.rstrip("?"),
    )


def _older_hidden(
    actor: Actor, ref: RecordRef, show_for_last: grid.ShowForLast, search: str
) -> bool:
    """Whether Show For Last hides older interactions of the record."""
    since = show_for_last.since(utcnow())
    if since is None:
        return False

    older = grid.record_grid(
        db(), actor, ref, grid.ShowForLast.ALL, 1, grid.Cursor(since, 0), search
    )
    return bool(older.rows)


@blueprint.get("/interactions/<int:interaction_id>")
@requires_sign_in
def interaction(actor: Actor, interaction_id: int) -> str:
    shown = grid.get_interaction(db(), actor, interaction_id)
    return render_template(
        "interaction.html",
        interaction=shown,
        resends=resends.history(db(), actor, interaction_id),
        resend_labels=resends.STATUS_LABELS,
        can_resend=shown.type.base_name in resends.RESENDABLE
        and Right.ADD_EDIT_INTERACTION in actor.rights,
        consent_lost=db().get_one(User, actor.user_id).mailbox_consent_lost_at,
        links=grid.links_of(db(), actor.firm_id, shown.id),
        conversation=grid.conversation_of(db(), actor, shown),
        remote_images=request.args.get("images") == "shown",
        is_system=not shown.is_editable,
        can_edit=Right.ADD_EDIT_INTERACTION in actor.rights,
        can_delete=Right.DELETE_INTERACTION in actor.rights,
    )


def email_policy(remote_images: bool) -> str:
    """What a logged email's own document may do: show itself, its styles and its
    embedded images (remote ones when asked), and nothing else. Its frame is
    sandboxed too (no scripts, no same origin)."""
    images = "data: cid: https:" if remote_images else "data: cid:"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
        "font-src data:; frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
    )


@blueprint.get("/interactions/<int:interaction_id>/email")
@requires_sign_in
def email_body(actor: Actor, interaction_id: int) -> BaseResponse:
    """The stored, sanitized HTML of an email, for the sandboxed frame that shows it.

    Remote images load only when the person asks (``images=shown``): an image from
    the sender's server tells the sender when, and from where, it was read.
    """
    shown = grid.get_interaction(db(), actor, interaction_id)
    policy = email_policy(request.args.get("images") == "shown")

    response = make_response(shown.body_html)
    response.mimetype = "text/html"
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/captures")
@requires_sign_in
def capture_health(actor: Actor) -> str:
    return render_template(
        "captures.html",
        captures=captures.unfinished_captures(db(), actor),
        can_retry=Right.ADD_EDIT_INTERACTION in actor.rights,
    )


@blueprint.get("/captures/<int:capture_id>")
@requires_sign_in
def capture(actor: Actor, capture_id: int) -> Page:
    """One capture's progress; the page reloads itself until the capture is final,
    then opens the interaction it stored or found."""
    shown = captures.get_capture(db(), actor, capture_id)
    if shown.interaction_id is not None:
        if shown.status is CaptureStatus.DUPLICATE:
            flash("This message was logged already; here is its interaction.")
        return redirect(
            url_for("pages.interaction", interaction_id=shown.interaction_id)
        )

    return render_template(
        "capture.html",
        capture=shown,
        waiting=shown.status not in FINAL_STATUSES,
        can_retry=Right.ADD_EDIT_INTERACTION in actor.rights,
    )


@blueprint.post("/captures/<int:capture_id>/retry")
@requires_sign_in
def retry_capture(actor: Actor, capture_id: int) -> BaseResponse:
    captures.retry_capture(db(), actor, capture_id)
    db().commit()
    flash("Sent to a worker again; this page shows it until it is stored.")
    return redirect(url_for("pages.capture_health"))
