"""Registering a firm and its users: what onboarding, the seed and the tests share."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from interactions.models import (
    Firm,
    Right,
    SecurityGroup,
    SecurityGroupRight,
    Tier,
    User,
)
from interactions.services.access import Actor
from interactions.services.interaction_types import add_standard_types

#: The security groups a new firm starts with.
STANDARD_GROUPS: dict[str, frozenset[Right]] = {
    "Administrators": frozenset(Right),
    "Editors": frozenset({Right.ADD_EDIT_INTERACTION, Right.DELETE_INTERACTION}),
    "Readers": frozenset(),
}


def register_firm(
    session: Session, name: str, tier: Tier, has_salespitch: bool, tenant_id: str
) -> Firm:
    firm = Firm(
        name=name, tier=tier, has_salespitch=has_salespitch, entra_tenant_id=tenant_id
    )
    session.add(firm)
    session.flush()
    for group_name, rights in STANDARD_GROUPS.items():
        _add_group(session, firm.id, group_name, rights)

    add_standard_types(session, firm.id)
    session.flush()

    return firm


def add_user(
    session: Session,
    firm: Firm,
    object_id: str,
    email: str,
    name: str,
    rights: Iterable[Right],
) -> User:
    """A user in the firm's group with exactly these rights, made if none has them."""
    wanted = frozenset(rights)
    groups = session.scalars(
        select(SecurityGroup).where(SecurityGroup.firm_id == firm.id)
    )
    group = next(
        (g for g in groups if frozenset(r.right for r in g.rights) == wanted), None
    )
    if group is None:
        label = ", ".join(sorted(right.value for right in wanted))
        group = _add_group(session, firm.id, f"Custom: {label}", wanted)

    user = User(
        firm=firm,
        entra_object_id=object_id,
        email=email.lower(),
        name=name,
        security_groups=[group],
    )
    session.add(user)
    session.flush()

    return user


def employees(session: Session, actor: Actor) -> list[User]:
    """The firm's active users, by name: who may be an interaction's participant."""
    return list(
        session.scalars(
            select(User)
            .where(User.firm_id == actor.firm_id, User.is_active)
            .order_by(User.name)
            .options(lazyload(User.security_groups))
        )
    )


def _add_group(
    session: Session, firm_id: int, name: str, rights: frozenset[Right]
) -> SecurityGroup:
    group = SecurityGroup(
        firm_id=firm_id,
        name=name,
        rights=[SecurityGroupRight(right=right) for right in sorted(rights)],
    )
    session.add(group)
    session.flush()

    return group
