"""Maintenance > List Values > Interaction: the firm's interaction types."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid
from interactions.models import BaseName, InteractionType, Right
from interactions.services import audit
from interactions.services.access import (
    Actor,
    get_owned,
    require_interactions,
    require_right,
)

#: The types a new firm starts with, and the roles each offers in the slider.
STANDARD_TYPES: list[tuple[BaseName, str, list[str]]] = [
    (BaseName.EMAIL, "Email", ["From", "To", "Cc"]),
    (BaseName.PHONE_CALL, "Phone Call", ["Caller", "Recipient"]),
    (BaseName.APPOINTMENT, "Appointment", ["Organizer", "Attendee"]),
    (BaseName.MEETING, "Meeting", ["Organizer", "Attendee"]),
    (BaseName.BLAST_EMAIL, "Blast Email", ["From", "To"]),
    (BaseName.SECURE_FILE_EXCHANGE, "Secure File Exchange", ["From", "To"]),
]


@dataclass(frozen=True)
class TypeFields:
    """What Maintenance may set on a type; None leaves a field as it is."""

    base_name: str | None = None
    display_name: str | None = None
    description: str | None = None
    is_active: bool | None = None
    roles: list[str] | None = None


def list_types(
    session: Session, actor: Actor, active_only: bool = False
) -> list[InteractionType]:
    require_interactions(actor)
    query = select(InteractionType).where(InteractionType.firm_id == actor.firm_id)
    if active_only:
        query = query.where(InteractionType.is_active)

    return list(session.scalars(query.order_by(InteractionType.display_name)))


def create_type(session: Session, actor: Actor, fields: TypeFields) -> InteractionType:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    if fields.base_name is None:
        raise Invalid("Base name is required.", "base_name")

    if not fields.display_name or not fields.display_name.strip():
        raise Invalid("Display name is required.", "display_name")

    interaction_type = InteractionType(
        firm_id=actor.firm_id,
        base_name=_base_name(fields.base_name),
        display_name="",
        description="",
        roles=[],
    )
    _apply(session, interaction_type, fields)
    session.add(interaction_type)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "interaction_type",
        interaction_type.id,
        details={"display_name": interaction_type.display_name},
    )

    return interaction_type


def update_type(
    session: Session, actor: Actor, type_id: int, fields: TypeFields
) -> InteractionType:
    require_right(actor, Right.MAINTAIN_LIST_VALUES)
    interaction_type = get_owned(session, InteractionType, type_id, actor)
    if fields.base_name is not None:
        interaction_type.base_name = _base_name(fields.base_name)

    _apply(session, interaction_type, fields)
    session.flush()
    audit.record(
        session,
        actor,
        "update",
        "interaction_type",
        interaction_type.id,
        details={
            "display_name": interaction_type.display_name,
            "is_active": interaction_type.is_active,
        },
    )

    return interaction_type


def _apply(
    session: Session, interaction_type: InteractionType, fields: TypeFields
) -> None:
    if fields.display_name is not None:
        name = fields.display_name.strip()
        if not name:
            raise Invalid("Display name is required.", "display_name")

        taken = session.scalar(
            select(InteractionType.id).where(
                InteractionType.firm_id == interaction_type.firm_id,
                InteractionType.display_name == name,
                InteractionType.id != interaction_type.id,
            )
        )
        if taken is not None:
            raise Conflict(f"Another interaction type is already called {name}.")

        interaction_type.display_name = name

    if fields.description is not None:
        interaction_type.description = fields.description.strip()

    if fields.is_active is not None:
        interaction_type.is_active = fields.is_active

    if fields.roles is not None:
        interaction_type.roles = _roles(fields.roles)


def _base_name(value: str) -> BaseName:
    try:
        return BaseName(value)
    except ValueError:
        names = ", ".join(name.value for name in BaseName)
        raise Invalid(f"Base name must be one of: {names}.", "base_name") from None


def _roles(roles: list[str]) -> list[str]:
    cleaned = [role.strip() for role in roles]
    if any(not role for role in cleaned):
        raise Invalid("A role cannot be blank.", "roles")

    if len({role.casefold() for role in cleaned}) != len(cleaned):
        raise Invalid("Each role can be added once.", "roles")

    return cleaned


def add_standard_types(session: Session, firm_id: int) -> None:
    """Give a new firm the standard types."""
    for base_name, display_name, roles in STANDARD_TYPES:
        session.add(
            InteractionType(
                firm_id=firm_id,
                base_name=base_name,
                display_name=display_name,
                description=f"{display_name} with a client or prospect.",
                roles=roles,
            )
        )


def email_roles(interaction_type: InteractionType | None) -> tuple[str, str, str]:
    """The type's roles for an email's From, To and Cc: by name, else by position."""
    offered = interaction_type.roles if interaction_type else []
    chosen = []
    for position, wanted in enumerate(("From", "To", "Cc")):
        by_name = [r for r in offered if r.casefold() == wanted.casefold()]
        by_position = offered[min(position, len(offered) - 1)] if offered else wanted
        chosen.append(by_name[0] if by_name else by_position)

    return chosen[0], chosen[1], chosen[2]
