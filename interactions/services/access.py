"""Who is acting, and what they may do: rights, tier, add-ons and firm ownership."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from interactions.db import Base
from interactions.errors import Forbidden, NotFound, Unauthenticated
from interactions.models import (
    INTERACTION_TIERS,
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


# One statement: the user and their firm, with a row for each right (or one row with
# none), instead of the user's groups and their rights one by one. Built once: every
# API request that is not remembered, and every task, runs one of them.
_ACTOR_ROWS = (
    select(
        User.id,
        User.firm_id,
        User.name,
        User.is_active,
        Firm.tier,
        Firm.has_salespitch,
        SecurityGroupRight.right,
    )
    .join(Firm, Firm.id == User.firm_id)
    .outerjoin(user_security_group, user_security_group.c.user_id == User.id)
    .outerjoin(
        SecurityGroupRight,
        SecurityGroupRight.security_group_id == user_security_group.c.security_group_id,
    )
)
_ACTOR_BY_ACCOUNT = _ACTOR_ROWS.where(
    Firm.entra_tenant_id == bindparam("tenant_id"),
    User.entra_object_id == bindparam("object_id"),
)
_ACTOR_BY_ID = _ACTOR_ROWS.where(User.id == bindparam("user_id"))


def actor_for(session: Session, tenant_id: str, object_id: str) -> Actor:
    """The actor behind a validated token's (tid, oid)."""
    rows = session.execute(
        _ACTOR_BY_ACCOUNT, {"tenant_id": tenant_id, "object_id": object_id}
    ).all()
    if not rows or not rows[0].is_active:
        raise Unauthenticated(
            "Your account is not set up in Interactions; ask your firm's administrator."
        )

    return _actor(rows)


def actor_of_user(session: Session, user_id: int) -> Actor:
    """The user as an actor, with the rights they hold now: what a worker acts as."""
    rows = session.execute(_ACTOR_BY_ID, {"user_id": user_id}).all()
    if not rows:
        raise NotFound(f"No user has the id {user_id}.")

    return _actor(rows)


def _actor(rows: Sequence[Any]) -> Actor:
    user = rows[0]
    return Actor(
        user_id=user.id,
        firm_id=user.firm_id,
        name=user.name,
        has_interactions=user.tier in INTERACTION_TIERS,
        has_salespitch=user.has_salespitch,
        rights=frozenset(row.right for row in rows if row.right is not None),
    )


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
