"""Adding, editing and deleting interactions from the admin page.

Plain forms that work without scripts: a refused field comes back with its error
beside it and nothing typed lost; a delete asks "Are you sure?" first. The request
commits once, after the service accepted the change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from interactions.errors import Invalid, NotFound
from interactions.models import (
    SALESPITCH,
    Interaction,
    RecordType,
    Right,
)
from interactions.services import (
    firms,
    grid,
    imports,
    interaction_types,
    interactions,
    records,
)
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
    """The Add Interaction slider; prefilled from a dropped file's draft if given."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    form = request.form
    draft = _draft(request.values.get("draft", ""))
    if request.method == "GET" or "prefill" in form:
        record = _record(actor, request.values.get("record", ""))
        if draft is not None:
            links = [_link_of(actor, link) for link in draft.get("links", [])]
            values = {
                "type_id": draft.get("type_id") or "",
                "title": draft.get("title", ""),
            }
        else:
            links = [record] if record else []
            values = {"occurred_at": _now_field()}
        return _slider(actor, values, links, draft=draft)

    linking = Linking.of(actor, form)
    if linking.changed:
        return _slider(actor, form, linking.links, linking=linking, draft=draft)

    try:
        fields = _fields(form, imported=draft is not None)
        if draft is not None:
            capture = imports.submit_import(
                db(),
                actor,
                draft["item"],
                fields.type_id,
                fields.title or "",
                linking.links,
                _imported_participants(form, draft),
            )
            db().commit()
            flash(f"Logging “{fields.title}”: this page follows it until it is stored.")
            return redirect(url_for("pages.capture", capture_id=capture.id))

        created = create_interaction(db(), actor, fields, links=linking.links)
    except Invalid as refused:
        return _slider(actor, form, linking.links, refused, draft=draft), 422

    db().commit()
    flash(f"Interaction “{created.title}” added.")
    return redirect(_back() or url_for("pages.interaction", interaction_id=created.id))


@blueprint.route("/interactions/<int:interaction_id>/edit", methods=["GET", "POST"])
@requires_sign_in
def edit(actor: Actor, interaction_id: int) -> Page:
    interaction = _editable(actor, interaction_id)
    if isinstance(interaction, tuple):
        return interaction

    current = [
        RecordRef(link.record_type, link.record_id) for link in interaction.links
    ]
    if request.method == "GET":
        values = {
            "type_id": str(interaction.type_id),
            "title": interaction.title,
            "occurred_at": f"{interaction.occurred_at:%Y-%m-%dT%H:%M}",
            "duration_minutes": interaction.duration_minutes or "",
            "body_text": interaction.body_text,
            "body_html": interaction.body_html,
        }
        return _slider(actor, values, current, interaction=interaction)

    form = request.form
    linking = Linking.of(actor, form)
    if linking.changed:
        return _slider(
            actor, form, linking.links, linking=linking, interaction=interaction
        )

    try:
        fields = _fields(form)
        if fields.body_html is None and fields.body_text not in (
            None,
            interaction.body_text,
        ):
            # Notes changed without the editor: their old formatting no longer fits.
            fields = replace(fields, body_html="")
        update_interaction(db(), actor, interaction_id, fields)
    except Invalid as refused:
        return _slider(
            actor, form, linking.links, refused, interaction=interaction
        ), 422

    for ref in linking.links:
        if ref not in current:
            interactions.add_link(db(), actor, interaction_id, ref)
    for ref in current:
        if ref not in linking.links:
            interactions.remove_link(db(), actor, interaction_id, ref)
    db().commit()
    flash("Changes saved.")
    return redirect(
        _back() or url_for("pages.interaction", interaction_id=interaction_id)
    )


@dataclass(frozen=True)
class Linking:
    """The slider's Linking section as a form sent it.

    With scripts, a name typed finds records as it is typed and a click adds one;
    without, Find, a result's button and Remove send the form back to itself, and
    ``changed`` says that it came back for that rather than to be saved.
    """

    links: list[RecordRef]
    found: list[records.RecordSummary]
    searched: bool
    changed: bool

    @classmethod
    def of(cls, actor: Actor, form: Any) -> Linking:
        links: list[RecordRef] = []
        for value in [*form.getlist("link"), form.get("link_add", "")]:
            ref = _link_of(actor, value) if value else None
            if ref is not None and ref not in links:
                links.append(ref)
        removed = form.get("unlink", "")
        links = [ref for ref in links if _written(ref) != removed]

        kind, query = form.get("link_type", ""), form.get("link_q", "").strip()
        searched = "find" in form and bool(kind and query)
        found = (
            records.search(
                db(), actor, [records.parse_record_type(kind, "link_type")], query
            )
            if searched
            else []
        )
        changed = "find" in form or "link_add" in form or "unlink" in form
        return cls(links, found, searched, changed)


def _link_of(actor: Actor, value: Any) -> RecordRef:
    if isinstance(value, dict):
        value = f"{value.get('record_type')}:{value.get('record_id')}"
    return records.parse_link(db(), actor, str(value), "link")


def _written(ref: RecordRef) -> str:
    return f"{ref.record_type.value}:{ref.record_id}"


def _draft(value: str) -> dict[str, Any] | None:
    """An import's draft, as ``POST /api/v1/imports`` gave it to the page."""
    if not value:
        return None

    try:
        draft = json.loads(value)
    except ValueError:
        draft = None
    if not isinstance(draft, dict) or not isinstance(draft.get("item"), dict):
        raise Invalid("The imported file's draft is damaged; drop the file again.")

    return draft


def _imported_participants(form: Any, draft: dict[str, Any]) -> list[ParticipantFields]:
    """The draft's people, each the contact the person chose among its candidates."""
    participants = []
    for index, person in enumerate(draft.get("participants", [])):
        if not isinstance(person, dict) or not isinstance(person.get("role"), str):
            raise Invalid("The imported file's draft is damaged; drop the file again.")
        chosen = form.get(f"participant-{index}", "")
        allowed = {str(c.get("contact_id")) for c in person.get("candidates", [])}
        if chosen and chosen not in allowed:
            raise Invalid("Choose the contact among those offered.", "participants")
        participants.append(
            ParticipantFields(
                role=person["role"],
                contact_id=int(chosen) if chosen else None,
                address=person.get("address") or None,
                display_name=person.get("display_name", ""),
            )
        )

    return participants


def _back() -> str | None:
    return local_path(request.values.get("back"))


@blueprint.route("/interactions/<int:interaction_id>/delete", methods=["GET", "POST"])
@requires_sign_in
def delete(actor: Actor, interaction_id: int) -> Page:
    require_right(actor, Right.DELETE_INTERACTION)
    interaction = grid.get_interaction(db(), actor, interaction_id)
    back = _back()
    if request.method == "GET":
        return render_template("delete.html", interaction=interaction, back=back)

    title = interaction.title
    delete_interaction(db(), actor, interaction_id)
    db().commit()
    flash(f"Interaction “{title}” deleted.")
    return redirect(back or url_for("pages.home"))


def _editable(actor: Actor, interaction_id: int) -> Interaction | tuple[str, int]:
    """The interaction to change, or the page that says why it cannot be changed."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    interaction = grid.get_interaction(db(), actor, interaction_id)
    if not interaction.is_editable:
        return render_template(
            "read_only.html", interaction=interaction, back=_back()
        ), 409

    return interaction


def _record(actor: Actor, value: str) -> RecordRef | None:
    """The record the new interaction is added from, as ``kind:id``, if any."""
    return records.parse_link(db(), actor, value) if value else None


def _fields(form: Any, imported: bool = False) -> InteractionFields:
    """What the slider's details say; an imported email keeps its own date and body."""
    type_id = form.get("type_id", "")
    if imported:
        return InteractionFields(
            type_id=int(type_id) if type_id.isdigit() else None,
            title=form.get("title", ""),
        )

    duration = form.get("duration_minutes", "").strip()
    if duration and not duration.isdigit():
        raise Invalid("Duration must be a whole number of minutes.", "duration_minutes")

    return InteractionFields(
        type_id=int(type_id) if type_id.isdigit() else None,
        title=form.get("title", ""),
        occurred_at=_moment(form.get("occurred_at", "")),
        duration_minutes=int(duration) if duration else None,
        # None where the form has no notes (an email's body is kept as it came).
        body_text=form.get("body_text"),
        # The notes' formatting, from the page's editor; None leaves it as it is.
        body_html=form.get("body_html"),
    )


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("Give the date and time it occurred.", "occurred_at") from None

    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _now_field() -> str:
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M}"


def _slider(
    actor: Actor,
    values: Any,
    links: list[RecordRef],
    refused: Invalid | None = None,
    *,
    linking: Linking | None = None,
    interaction: Interaction | None = None,
    draft: dict[str, Any] | None = None,
) -> str:
    types = [
        t
        for t in interaction_types.list_types(db(), actor, active_only=True)
        if not t.is_system
    ]
    names = records.names(db(), actor.firm_id, links)
    return render_template(
        "interaction_form.html",
        types=types,
        values=values,
        errors={refused.field or "form": refused.message} if refused else {},
        links=[
            records.RecordSummary(ref.record_type, ref.record_id, names[ref])
            for ref in links
        ],
        kinds=_link_kinds(actor),
        found=linking.found if linking else [],
        searched=linking.searched if linking else False,
        interaction=interaction,
        draft=draft,
        back=_back(),
        tabs=interaction is not None,
    )


def _link_kinds(actor: Actor) -> list[RecordType]:
    return [k for k in LINK_KINDS if k not in SALESPITCH or actor.has_salespitch]


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
    return redirect(
        url_for("editing.participants", interaction_id=interaction_id, back=_back())
    )


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
    return redirect(
        url_for("editing.participants", interaction_id=interaction_id, back=_back())
    )


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
        back=_back(),
        tabs=True,
        errors={refused.field or "form": refused.message} if refused else {},
        candidates=candidates or [],
    )
