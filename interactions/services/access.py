"""Who is acting, and what they may do: rights, tier, add-ons and firm ownership."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, contains_eager, lazyload

from interactions.db import Base
from interactions.errors import Forbidden, NotFound, Unauthenticated
from interactions.models import (
    SALESPITCH,
    Firm,
    RecordType,
    Right,
    SecurityGroupRight,
    User,
    user_security_group,
)

ModelT = TypeVar("ModelT", bound=Base)


@dataclass(frozen=True)
class Actor:
    """The signed-in user, as every service sees them."""

    user_id: int
    firm_id: int
    name: str
    has_interactions: bool
    has_salespitch: bool
    rights: frozenset[Right]

    @classmethod
    def of(cls, user: User, rights: frozenset[Right] | None = None) -> Actor:
        """The user as an actor, with ``rights`` when they were read already."""
        return cls(
            user_id=user.id,
            firm_id=user.firm_id,
            name=user.name,
            has_interactions=user.firm.has_interactions,
            has_salespitch=user.firm.has_salespitch,
            rights=user.rights if rights is None else rights,
        )


def actor_for(session: Session, tenant_id: str, object_id: str) -> Actor:
    """The actor behind a validated token's (tid, oid)."""
    actor = _read_actor(
        session, Firm.entra_tenant_id == tenant_id, User.entra_object_id == object_id
    )
    if actor is None:
        raise Unauthenticated(
            "Your account is not set up in Interactions; ask your firm's administrator."
        )

    return actor


def actor_of_user(session: Session, user_id: int) -> Actor:
    """The user as an actor, with the rights they hold now: what a worker acts as."""
    actor = _read_actor(session, User.id == user_id, include_inactive=True)
    if actor is None:
        raise NotFound(f"No user has the id {user_id}.")

    return actor


def _read_actor(
    session: Session, *criteria: ColumnElement[bool], include_inactive: bool = False
) -> Actor | None:
    # One statement: the user with the firm, and a row for each right (or one row
    # with none), instead of the user's groups and their rights one by one.
    rows = session.execute(
        select(User, SecurityGroupRight.right)
        .join(User.firm)
        .outerjoin(user_security_group, user_security_group.c.user_id == User.id)
        .outerjoin(
            SecurityGroupRight,
            SecurityGroupRight.security_group_id
            == user_security_group.c.security_group_id,
        )
        .where(*criteria)
        .options(contains_eager(User.firm), lazyload(User.security_groups))
    ).all()
    if not rows or not (include_inactive or rows[0][0].is_active):
        return None

    rights = frozenset(right for _, right in rows if right is not None)
    return Actor.of(rows[0][0], rights)


def is_registered_tenant(session: Session, tenant_id: str) -> bool:
    return (
        session.scalar(select(Firm.id).where(Firm.entra_tenant_id == tenant_id))
        is not None
    )


def require_interactions(actor: Actor) -> None:
    if not actor.has_interactions:
        raise Forbidden(
            "Interactions are part of the Team, Premium and Business tiers; "
            "ask your administrator to upgrade."
        )


def require_right(actor: Actor, right: Right) -> None:
    require_interactions(actor)
    if right not in actor.rights:
        raise Forbidden(f"You need the {right.value} right to do this.")


def require_record_type(actor: Actor, record_type: RecordType) -> None:
    if record_type in SALESPITCH and not actor.has_salespitch:
        raise Forbidden(
            f"{record_type.value.capitalize()} records need the SalesPitch add-on."
        )


def get_owned(
    session: Session, model: type[ModelT], record_id: int, actor: Actor
) -> ModelT:
    """The record with this id in the actor's firm; anything else is not found."""
    record = session.get(model, record_id)
    if record is None or getattr(record, "firm_id", None) != actor.firm_id:
        raise NotFound(f"No {_label(model)} has the id {record_id}.")

    return record


def _label(model: type[Base]) -> str:
    return str(model.__tablename__).replace("_", " ")
