"""Adding, editing and deleting interactions from the admin page.

Plain forms that work without scripts: a refused field comes back with its error
beside it and nothing typed lost; a delete asks "Are you sure?" first. The request
commits once, after the service accepted the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from interactions.errors import Invalid, NotFound
from interactions.models import (
    SALESPITCH,
    Interaction,
    RecordType,
    Right,
)
from interactions.services import firms, grid, interaction_types, interactions, records
from interactions.services.access import Actor, require_right
from interactions.services.contacts import (
    ContactMatch,
    match_addresses,
    normalize_address,
)
from interactions.services.interactions import (
    InteractionFields,
    ParticipantFields,
    create_interaction,
    delete_interaction,
    update_interaction,
)
from interactions.services.records import RecordRef
from web.context import db
from web.page import Page
from web.pages import requires_sign_in
from web.signin import local_path

blueprint = Blueprint("editing", __name__)


#: What Link to Type offers, in its order; the last three need SalesPitch.
LINK_KINDS = (
    RecordType.PLAN,
    RecordType.CONTACT,
    RecordType.OPPORTUNITY,
    RecordType.PROPOSAL,
    RecordType.PROSPECT,
)


@blueprint.route("/interactions/new", methods=["GET", "POST"])
@requires_sign_in
def add(actor: Actor) -> Page:
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    record = _record(actor, request.values.get("record", ""))
    if request.method == "GET":
        return _form(actor, record, {"occurred_at": _now_field()})

    try:
        fields = _fields(request.form)
        created = create_interaction(
            db(), actor, fields, links=[record] if record else []
        )
    except Invalid as refused:
        return _form(actor, record, request.form, refused), 422

    db().commit()
    flash(f"Interaction “{created.title}” added.")
    if record is not None:
        return redirect(_record_url(record))

    return redirect(url_for("pages.interaction", interaction_id=created.id))


@blueprint.route("/interactions/<int:interaction_id>/edit", methods=["GET", "POST"])
@requires_sign_in
def edit(actor: Actor, interaction_id: int) -> Page:
    interaction = _editable(actor, interaction_id)
    if isinstance(interaction, tuple):
        return interaction

    if request.method == "GET":
        values = {
            "type_id": str(interaction.type_id),
            "title": interaction.title,
            "occurred_at": f"{interaction.occurred_at:%Y-%m-%dT%H:%M}",
            "duration_minutes": interaction.duration_minutes or "",
            "body_text": interaction.body_text,
        }
        return _form(actor, None, values, interaction=interaction)

    try:
        update_interaction(db(), actor, interaction_id, _fields(request.form))
    except Invalid as refused:
        return _form(actor, None, request.form, refused, interaction), 422

    db().commit()
    flash("Changes saved.")
    return redirect(url_for("pages.interaction", interaction_id=interaction_id))


@blueprint.route("/interactions/<int:interaction_id>/delete", methods=["GET", "POST"])
@requires_sign_in
def delete(actor: Actor, interaction_id: int) -> Page:
    require_right(actor, Right.DELETE_INTERACTION)
    interaction = grid.get_interaction(db(), actor, interaction_id)
    back = local_path(request.values.get("back")) or url_for("pages.home")
    if request.method == "GET":
        return render_template("delete.html", interaction=interaction, back=back)

    title = interaction.title
    delete_interaction(db(), actor, interaction_id)
    db().commit()
    flash(f"Interaction “{title}” deleted.")
    return redirect(back)


def _editable(actor: Actor, interaction_id: int) -> Interaction | tuple[str, int]:
    """The interaction to change, or the page that says why it cannot be changed."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    interaction = grid.get_interaction(db(), actor, interaction_id)
    if not interaction.is_editable:
        return render_template("read_only.html", interaction=interaction), 409

    return interaction


def _record(actor: Actor, value: str) -> RecordRef | None:
    """The record the new interaction is added from, as ``kind:id``, if any."""
    return records.parse_link(db(), actor, value) if value else None


def _fields(form: Any) -> InteractionFields:
    type_id = form.get("type_id", "")
    duration = form.get("duration_minutes", "").strip()
    if duration and not duration.isdigit():
        raise Invalid("Duration must be a whole number of minutes.", "duration_minutes")

    return InteractionFields(
        type_id=int(type_id) if type_id.isdigit() else None,
        title=form.get("title", ""),
        occurred_at=_moment(form.get("occurred_at", "")),
        duration_minutes=int(duration) if duration else None,
        body_text=form.get("body_text", ""),
    )


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("Give the date and time it occurred.", "occurred_at") from None

    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _now_field() -> str:
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M}"


def _form(
    actor: Actor,
    record: RecordRef | None,
    values: Any,
    refused: Invalid | None = None,
    interaction: Any = None,
) -> str:
    types = [
        t
        for t in interaction_types.list_types(db(), actor, active_only=True)
        if not t.is_system
    ]
    return render_template(
        "interaction_form.html",
        types=types,
        values=values,
        errors={refused.field or "form": refused.message} if refused else {},
        record=record,
        record_name=records.names(db(), actor.firm_id, [record])[record]
        if record
        else None,
        interaction=interaction,
    )


def _record_url(ref: RecordRef) -> str:
    return url_for("pages.record", kind=ref.record_type.value, record_id=ref.record_id)


@blueprint.get("/interactions/<int:interaction_id>/participants")
@requires_sign_in
def participants(actor: Actor, interaction_id: int) -> Page:
    interaction = _editable(actor, interaction_id)
    if isinstance(interaction, tuple):
        return interaction

    return _participants_page(actor, interaction, {})


@blueprint.post("/interactions/<int:interaction_id>/participants")
@requires_sign_in
def add_participant(actor: Actor, interaction_id: int) -> Page:
    interaction = grid.get_interaction(db(), actor, interaction_id)
    form = request.form
    try:
        fields = _participant_fields(actor, form)
        if isinstance(fields, list):
            # Several contacts have the address: the person chooses.
            return _participants_page(actor, interaction, form, candidates=fields)
        interactions.add_participant(db(), actor, interaction_id, fields)
    except Invalid as refused:
        return _participants_page(actor, interaction, form, refused), 422

    db().commit()
    flash("Participant added.")
    return redirect(url_for("editing.participants", interaction_id=interaction_id))


@blueprint.post("/interactions/<int:interaction_id>/participants/<int:participant_id>")
@requires_sign_in
def change_participant(actor: Actor, interaction_id: int, participant_id: int) -> Page:
    interaction = grid.get_interaction(db(), actor, interaction_id)
    if "delete" in request.form:
        interactions.delete_participant(db(), actor, interaction_id, participant_id)
        message = "Participant removed."
    else:
        current = next(
            (p for p in interaction.participants if p.id == participant_id), None
        )
        if current is None:
            raise NotFound("There is no such participant.")
        try:
            interactions.update_participant(
                db(),
                actor,
                interaction_id,
                participant_id,
                ParticipantFields(
                    role=request.form.get("role", ""),
                    contact_id=current.contact_id,
                    user_id=current.user_id,
                    address=current.address,
                    display_name=current.display_name,
                ),
            )
        except Invalid as refused:
            return _participants_page(actor, interaction, {}, refused), 422
        message = "Participant saved."

    db().commit()
    flash(message)
    return redirect(url_for("editing.participants", interaction_id=interaction_id))


def _participant_fields(
    actor: Actor, form: Any
) -> ParticipantFields | list[ContactMatch]:
    """The participant the form describes, or the contacts to choose among."""
    role = form.get("role", "")
    if form.get("who") == "employee":
        user_id = form.get("user_id", "")
        if not user_id.isdigit():
            raise Invalid("Choose the employee.", "user_id")
        return ParticipantFields(role=role, user_id=int(user_id))

    address = form.get("address", "").strip()
    name = form.get("display_name", "")
    chosen = form.get("contact_id", "")
    if chosen.isdigit():
        return ParticipantFields(
            role=role, contact_id=int(chosen), address=address, display_name=name
        )

    candidates = (
        match_addresses(db(), actor.firm_id, [address]).get(
            normalize_address(address), []
        )
        if address
        else []
    )
    if len(candidates) > 1:
        return candidates

    return ParticipantFields(
        role=role,
        contact_id=candidates[0].contact_id if candidates else None,
        address=address,
        display_name=name,
    )


def _participants_page(
    actor: Actor,
    interaction: Any,
    values: Any,
    refused: Invalid | None = None,
    candidates: list[ContactMatch] | None = None,
) -> str:
    return render_template(
        "participants.html",
        interaction=interaction,
        employees=firms.employees(db(), actor),
        values=values,
        errors={refused.field or "form": refused.message} if refused else {},
        candidates=candidates or [],
    )


@blueprint.get("/interactions/<int:interaction_id>/links")
@requires_sign_in
def linking(actor: Actor, interaction_id: int) -> Page:
    """The Linking section: Link to Type, then a name to search among that kind."""
    interaction = _editable(actor, interaction_id)
    if isinstance(interaction, tuple):
        return interaction

    kinds = [k for k in LINK_KINDS if k not in SALESPITCH or actor.has_salespitch]
    kind = request.args.get("type", "")
    query = request.args.get("q", "")
    found = (
        records.search(db(), actor, [records.parse_record_type(kind, "type")], query)
        if kind and query.strip()
        else []
    )
    return render_template(
        "links.html",
        interaction=interaction,
        links=grid.links_of(db(), actor.firm_id, interaction.id),
        kinds=kinds,
        kind=kind,
        query=query,
        found=found,
    )


@blueprint.post("/interactions/<int:interaction_id>/links")
@requires_sign_in
def change_link(actor: Actor, interaction_id: int) -> BaseResponse:
    ref = _record(actor, request.form.get("record", ""))
    if ref is None:
        raise Invalid("Choose the record to link.", "record")

    if "remove" in request.form:
        interactions.remove_link(db(), actor, interaction_id, ref)
        message = "Link removed."
    else:
        interactions.add_link(db(), actor, interaction_id, ref)
        message = "Linked."

    db().commit()
    flash(message)
    return redirect(url_for("editing.linking", interaction_id=interaction_id))
