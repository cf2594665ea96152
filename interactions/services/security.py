"""Maintenance > Users and rights: the firm's security groups and who is in which.

A user's rights are the union of their groups' rights. Groups are renamed and their
rights changed, never deleted. No change may leave the firm without an active user
who holds Administer Users: nobody could give the right back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid
from interactions.models import (
    Firm,
    Right,
    SecurityGroup,
    SecurityGroupRight,
    User,
    user_security_group,
)
from interactions.services import audit
from interactions.services.access import Actor, get_owned, require_right

NAME_LENGTH = 100


@dataclass(frozen=True)
class GroupFields:
    """A group's name and the values of the rights it gives."""

    name: str
    rights: list[str]


@dataclass(frozen=True)
class GroupRow:
    """A group as its list shows it."""

    group: SecurityGroup
    rights: list[Right]
    member_count: int


@dataclass(frozen=True)
class UserFields:
    """A user's groups, and whether they may sign in; None leaves that as it is."""

    group_ids: list[int]
    is_active: bool | None = None


def in_order(rights: Iterable[Right]) -> list[Right]:
    """Rights in the order the product lists them."""
    wanted = set(rights)
    return [right for right in Right if right in wanted]


def rights_of(group: SecurityGroup) -> list[Right]:
    return in_order(grant.right for grant in group.rights)


def list_groups(session: Session, actor: Actor) -> list[GroupRow]:
    require_right(actor, Right.ADMINISTER_USERS)
    counts = session.execute(
        select(user_security_group.c.security_group_id, func.count())
        .join(User, User.id == user_security_group.c.user_id)
        .where(User.firm_id == actor.firm_id)
        .group_by(user_security_group.c.security_group_id)
    )
    members = {group_id: count for group_id, count in counts}
    groups = session.scalars(
        select(SecurityGroup)
        .where(SecurityGroup.firm_id == actor.firm_id)
        .order_by(SecurityGroup.name)
    )
    return [GroupRow(g, rights_of(g), members.get(g.id, 0)) for g in groups]


def get_group(session: Session, actor: Actor, group_id: int) -> SecurityGroup:
    require_right(actor, Right.ADMINISTER_USERS)
    return get_owned(session, SecurityGroup, group_id, actor)


def create_group(session: Session, actor: Actor, fields: GroupFields) -> SecurityGroup:
    require_right(actor, Right.ADMINISTER_USERS)
    name = _name(session, actor.firm_id, fields.name)
    rights = _rights(fields.rights)

    group = SecurityGroup(
        firm_id=actor.firm_id,
        name=name,
        rights=[SecurityGroupRight(right=right) for right in in_order(rights)],
    )
    session.add(group)
    session.flush()
    _record(session, actor, "create", group)

    return group


def update_group(
    session: Session, actor: Actor, group_id: int, fields: GroupFields
) -> SecurityGroup:
    require_right(actor, Right.ADMINISTER_USERS)
    group = get_owned(session, SecurityGroup, group_id, actor)
    name = _name(session, actor.firm_id, fields.name, group.id)
    rights = _rights(fields.rights)
    if Right.ADMINISTER_USERS in {grant.right for grant in group.rights} - rights:
        _keep_an_administrator(session, actor.firm_id, "rights", group_id=group.id)

    group.name = name
    kept = [grant for grant in group.rights if grant.right in rights]
    added = rights - {grant.right for grant in kept}
    group.rights = kept + [SecurityGroupRight(right=r) for r in in_order(added)]
    session.flush()
    _record(session, actor, "update", group)

    return group


def list_users(session: Session, actor: Actor) -> list[User]:
    require_right(actor, Right.ADMINISTER_USERS)
    return list(
        session.scalars(
            select(User)
            .where(User.firm_id == actor.firm_id)
            .order_by(User.name, User.id)
        )
    )


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    require_right(actor, Right.ADMINISTER_USERS)
    return get_owned(session, User, user_id, actor)


def update_user(
    session: Session, actor: Actor, user_id: int, fields: UserFields
) -> User:
    require_right(actor, Right.ADMINISTER_USERS)
    user = get_owned(session, User, user_id, actor)
    groups = [
        get_owned(session, SecurityGroup, group_id, actor)
        for group_id in dict.fromkeys(fields.group_ids)
    ]
    is_active = user.is_active if fields.is_active is None else fields.is_active
    if _loses_administer_users(user, groups, is_active):
        _keep_an_administrator(session, actor.firm_id, "groups", user_id=user.id)

    user.security_groups = sorted(groups, key=lambda group: group.name)
    user.is_active = is_active
    session.flush()
    audit.record(
        session,
        actor,
        "update",
        "user",
        user.id,
        details={
            "groups": [group.name for group in user.security_groups],
            "is_active": user.is_active,
        },
    )

    return user


def _loses_administer_users(
    user: User, groups: list[SecurityGroup], is_active: bool
) -> bool:
    had = user.is_active and Right.ADMINISTER_USERS in user.rights
    keeps = is_active and any(
        Right.ADMINISTER_USERS in rights_of(group) for group in groups
    )
    return had and not keeps


def _keep_an_administrator(
    session: Session,
    firm_id: int,
    field: str,
    user_id: int | None = None,
    group_id: int | None = None,
) -> None:
    """Refuse a change that takes Administer Users from the firm's last holder."""
    # Changes that take the right away wait for each other here, so that two
    # administrators removing each other cannot both pass the check.
    session.execute(select(Firm.id).where(Firm.id == firm_id).with_for_update())
    others = (
        select(User.id)
        .join(user_security_group, user_security_group.c.user_id == User.id)
        .join(
            SecurityGroupRight,
            SecurityGroupRight.security_group_id
            == user_security_group.c.security_group_id,
        )
        .where(
            User.firm_id == firm_id,
            User.is_active,
            SecurityGroupRight.right == Right.ADMINISTER_USERS,
        )
        .limit(1)
    )
    if user_id is not None:
        others = others.where(User.id != user_id)
    if group_id is not None:
        others = others.where(user_security_group.c.security_group_id != group_id)

    if session.scalar(others) is None:
        raise Conflict(
            "Nobody else would have the Administer Users right, and without it "
            "nobody can manage users and rights. Give it to another active user "
            "first.",
            field,
        )


def _name(
    session: Session, firm_id: int, value: str, group_id: int | None = None
) -> str:
    name = value.strip()
    if not name:
        raise Invalid("Name is required.", "name")

    if len(name) > NAME_LENGTH:
        raise Invalid(f"Name can be at most {NAME_LENGTH} characters.", "name")

    others = select(SecurityGroup.name).where(SecurityGroup.firm_id == firm_id)
    if group_id is not None:
        others = others.where(SecurityGroup.id != group_id)

    # Compared here, not in SQL: SQLite's lower() folds ASCII letters only.
    if any(taken.casefold() == name.casefold() for taken in session.scalars(others)):
        raise Conflict(f"Another security group is already called {name}.", "name")

    return name


def _rights(values: Iterable[str]) -> set[Right]:
    try:
        return {Right(value) for value in values}
    except ValueError:
        raise Invalid("Choose rights from the list.", "rights") from None


def _record(session: Session, actor: Actor, action: str, group: SecurityGroup) -> None:
    audit.record(
        session,
        actor,
        action,
        "security_group",
        group.id,
        details={"name": group.name, "rights": [r.value for r in rights_of(group)]},
    )
