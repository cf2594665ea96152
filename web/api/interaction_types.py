"""Maintenance of interaction types (list values)."""

from __future__ import annotations

from interactions.models import InteractionType
from interactions.services import interaction_types
from web.api import api
from web.api.schemas import (
    InteractionTypeIn,
    InteractionTypeList,
    InteractionTypeOut,
    InteractionTypeQuery,
)
from web.context import actor, db


def type_out(interaction_type: InteractionType) -> InteractionTypeOut:
    return InteractionTypeOut(
        id=interaction_type.id,
        base_name=interaction_type.base_name.value,
        display_name=interaction_type.display_name,
        description=interaction_type.description,
        is_active=interaction_type.is_active,
        is_system=interaction_type.is_system,
        roles=list(interaction_type.roles),
    )


@api.operation(
    "GET",
    "/interaction-types",
    summary="The firm's interaction types",
    tag="interaction types",
    query=InteractionTypeQuery,
    response=InteractionTypeList,
)
def list_types(query: InteractionTypeQuery) -> InteractionTypeList:
    found = interaction_types.list_types(db(), actor(), active_only=query.active)
    return InteractionTypeList(types=[type_out(t) for t in found])


@api.operation(
    "POST",
    "/interaction-types",
    summary="Add an interaction type",
    tag="interaction types",
    body=InteractionTypeIn,
    response=InteractionTypeOut,
    status=201,
    errors=(409,),
)
def create_type(body: InteractionTypeIn) -> InteractionTypeOut:
    fields = interaction_types.TypeFields(**body.model_dump())
    return type_out(interaction_types.create_type(db(), actor(), fields))


@api.operation(
    "PATCH",
    "/interaction-types/<int:type_id>",
    summary="Edit or deactivate an interaction type; types are never deleted",
    tag="interaction types",
    body=InteractionTypeIn,
    response=InteractionTypeOut,
    errors=(404, 409),
)
def update_type(type_id: int, body: InteractionTypeIn) -> InteractionTypeOut:
    fields = interaction_types.TypeFields(**body.model_dump())
    return type_out(interaction_types.update_type(db(), actor(), type_id, fields))
