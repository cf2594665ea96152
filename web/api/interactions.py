"""Interactions: a record's grid, one interaction, its links and participants."""

from __future__ import annotations

from interactions.models import Interaction, Participant
from interactions.services import grid
from interactions.services import interactions as operations
from interactions.services.records import RecordRef, parse_record_type, parse_ref
from web.api import api
from web.api.interaction_types import type_out
from web.api.schemas import (
    GridPageOut,
    GridQuery,
    GridRowOut,
    InteractionIn,
    InteractionOut,
    InteractionPatch,
    LinkOut,
    LinkQuery,
    ParticipantIn,
    ParticipantOut,
    RecordIn,
)
from web.context import actor, db


def interaction_out(interaction: Interaction) -> InteractionOut:
    links = grid.links_of(db(), interaction.firm_id, interaction.id)
    return InteractionOut(
        id=interaction.id,
        type=type_out(interaction.type),
        title=interaction.title,
        occurred_at=interaction.occurred_at,
        duration_minutes=interaction.duration_minutes,
        body_text=interaction.body_text,
        body_html=interaction.body_html,
        source=interaction.source.value,
        internet_message_id=interaction.internet_message_id,
        conversation_id=interaction.conversation_id,
        attachments=interaction.attachments,
        is_editable=interaction.is_editable,
        created_by_id=interaction.created_by_id,
        created_at=interaction.created_at,
        updated_by_id=interaction.updated_by_id,
        updated_at=interaction.updated_at,
        participants=[
            ParticipantOut.model_validate(p) for p in interaction.participants
        ],
        links=[LinkOut.model_validate(link) for link in links],
    )


def record_ref(record_type: str, record_id: int) -> RecordRef:
    return RecordRef(parse_record_type(record_type), record_id)


def participant_fields(body: ParticipantIn) -> operations.ParticipantFields:
    return operations.ParticipantFields(**body.model_dump())


@api.operation(
    "GET",
    "/interactions",
    summary="A record's Interactions tab, newest first, within Show For Last",
    tag="interactions",
    query=GridQuery,
    response=GridPageOut,
    errors=(404,),
)
def record_grid(query: GridQuery) -> GridPageOut:
    record = parse_ref(query.record)
    show_for_last = grid.parse_show_for_last(query.show_for_last)
    before = grid.Cursor.decode(query.before) if query.before else None
    page = grid.record_grid(
        db(), actor(), record, show_for_last, query.limit, before, query.search
    )

    return GridPageOut(
        record=query.record,
        show_for_last=show_for_last.value,
        interactions=[GridRowOut.model_validate(row) for row in page.rows],
        next_cursor=page.next_cursor,
    )


@api.operation(
    "POST",
    "/interactions",
    summary="Add an interaction; Type and Title are required",
    tag="interactions",
    body=InteractionIn,
    response=InteractionOut,
    status=201,
    errors=(409,),
)
def create_interaction(body: InteractionIn) -> InteractionOut:
    fields = operations.InteractionFields(
        **body.model_dump(exclude={"links", "participants"})
    )
    interaction = operations.create_interaction(
        db(),
        actor(),
        fields,
        links=[record_ref(link.record_type, link.record_id) for link in body.links],
        participants=[participant_fields(p) for p in body.participants],
    )
    return interaction_out(interaction)


@api.operation(
    "GET",
    "/interactions/<int:interaction_id>",
    summary="One interaction with its participants and links",
    tag="interactions",
    response=InteractionOut,
    errors=(404,),
)
def get_interaction(interaction_id: int) -> InteractionOut:
    return interaction_out(grid.get_interaction(db(), actor(), interaction_id))


@api.operation(
    "PATCH",
    "/interactions/<int:interaction_id>",
    summary="Edit an interaction",
    tag="interactions",
    body=InteractionPatch,
    response=InteractionOut,
    errors=(404, 409),
)
def update_interaction(interaction_id: int, body: InteractionPatch) -> InteractionOut:
    fields = operations.InteractionFields(**body.model_dump())
    return interaction_out(
        operations.update_interaction(db(), actor(), interaction_id, fields)
    )


@api.operation(
    "DELETE",
    "/interactions/<int:interaction_id>",
    summary="Delete an interaction",
    tag="interactions",
    status=204,
    errors=(404,),
)
def delete_interaction(interaction_id: int) -> None:
    operations.delete_interaction(db(), actor(), interaction_id)


@api.operation(
    "POST",
    "/interactions/<int:interaction_id>/links",
    summary="Link an interaction to a plan, contact, opportunity, proposal or prospect",
    tag="interactions",
    body=RecordIn,
    response=InteractionOut,
    status=201,
    errors=(404, 409),
)
def add_link(interaction_id: int, body: RecordIn) -> InteractionOut:
    link = operations.add_link(
        db(), actor(), interaction_id, record_ref(body.record_type, body.record_id)
    )
    return interaction_out(link.interaction)


@api.operation(
    "DELETE",
    "/interactions/<int:interaction_id>/links",
    summary="Remove one of an interaction's links",
    tag="interactions",
    status=204,
    query=LinkQuery,
    errors=(404, 409),
)
def remove_link(interaction_id: int, query: LinkQuery) -> None:
    ref = record_ref(query.record_type, query.record_id)
    operations.remove_link(db(), actor(), interaction_id, ref)


@api.operation(
    "POST",
    "/interactions/<int:interaction_id>/participants",
    summary="Add a participant: a contact, an employee or an address, with a role",
    tag="interactions",
    body=ParticipantIn,
    response=ParticipantOut,
    status=201,
    errors=(404, 409),
)
def add_participant(interaction_id: int, body: ParticipantIn) -> ParticipantOut:
    participant = operations.add_participant(
        db(), actor(), interaction_id, participant_fields(body)
    )
    return participant_out(participant)


@api.operation(
    "PATCH",
    "/interactions/<int:interaction_id>/participants/<int:participant_id>",
    summary="Change a participant",
    tag="interactions",
    body=ParticipantIn,
    response=ParticipantOut,
    errors=(404, 409),
)
def update_participant(
    interaction_id: int, participant_id: int, body: ParticipantIn
) -> ParticipantOut:
    participant = operations.update_participant(
        db(), actor(), interaction_id, participant_id, participant_fields(body)
    )
    return participant_out(participant)


@api.operation(
    "DELETE",
    "/interactions/<int:interaction_id>/participants/<int:participant_id>",
    summary="Remove a participant",
    tag="interactions",
    status=204,
    errors=(404, 409),
)
def delete_participant(interaction_id: int, participant_id: int) -> None:
    operations.delete_participant(db(), actor(), interaction_id, participant_id)


def participant_out(participant: Participant) -> ParticipantOut:
    return ParticipantOut.model_validate(participant)
