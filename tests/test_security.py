"""The rules of Users and rights: security groups, their rights and their members."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from interactions.models import AuditEvent, Right, SecurityGroup, User
from interactions.services import security
from interactions.services.access import actor_for
from interactions.services.security import GroupFields, UserFields
from tests.conftest import USERS, World

pytestmark = pytest.mark.security

MISSING = 987654


def group(db: Session, name: str, firm_id: int) -> SecurityGroup:
    return db.scalars(
        select(SecurityGroup).where(
            SecurityGroup.firm_id == firm_id, SecurityGroup.name == name
        )
    ).one()


def acme(world: World) -> int:
    return world.firm_ids["Acme Pensions"]


def events(db: Session, record_type: str, record_id: int) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent).where(
                AuditEvent.record_type == record_type,
                AuditEvent.record_id == record_id,
            )
        )
    )


def test_lists_the_firms_groups_with_rights_in_order_and_members(
    db: Session, world: World
) -> None:
    listed = security.list_groups(db, world.actors["admin"])

    rows = {row.group.name: row for row in listed}

    assert rows["Administrators"].rights == list(Right)
    assert rows["Administrators"].member_count == 1
    assert rows["Editors"].rights == [
        Right.ADD_EDIT_INTERACTION,
        Right.DELETE_INTERACTION,
    ]
    assert rows["Editors"].member_count == 0
    assert rows["Readers"].member_count == 1
    assert all(row.group.firm_id == acme(world) for row in rows.values())


def test_lists_the_firms_users_with_their_groups(db: Session, world: World) -> None:
    users = security.list_users(db, world.actors["admin"])

    assert [user.name for user in users] == ["Admin", "Deleter", "Editor", "Reader"]
    assert [g.name for g in users[0].security_groups] == ["Administrators"]


CALLS: list[Callable[[Session, Any], Any]] = [
    lambda db, actor: security.list_groups(db, actor),
    lambda db, actor: security.list_users(db, actor),
    lambda db, actor: security.create_group(db, actor, GroupFields("Mine", [])),
    lambda db, actor: security.get_group(db, actor, MISSING),
    lambda db, actor: security.update_group(
        db, actor, MISSING, GroupFields("Mine", [])
    ),
    lambda db, actor: security.get_user(db, actor, MISSING),
    lambda db, actor: security.update_user(db, actor, MISSING, UserFields([])),
]


CALL_IDS = [
    "list_groups",
    "list_users",
    "create_group",
    "get_group",
    "update_group",
    "get_user",
    "update_user",
]


@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_users_and_rights_need_administer_users(
    db: Session, world: World, call: Callable[[Session, Any], Any]
) -> None:
    with pytest.raises(Forbidden, match="Administer Users"):
        call(db, world.actors["editor"])


def test_creates_a_group_with_its_rights_and_audits_it(
    db: Session, world: World
) -> None:
    admin = world.actors["admin"]

    created = security.create_group(
        db,
        admin,
        GroupFields(
            "  Type keepers ",
            [Right.MAINTAIN_LIST_VALUES.value, Right.ADD_EDIT_INTERACTION.value],
        ),
    )

    assert created.name == "Type keepers"
    assert created.firm_id == acme(world)
    assert security.rights_of(created) == [
        Right.ADD_EDIT_INTERACTION,
        Right.MAINTAIN_LIST_VALUES,
    ]
    [event] = events(db, "security_group", created.id)
    assert (event.action, event.user_id) == ("create", admin.user_id)
    assert event.details == {
        "name": "Type keepers",
        "rights": ["Add/Edit Interaction", "Maintain List Values"],
    }


@pytest.mark.parametrize(
    ("name", "rights", "error", "field", "message"),
    [
        ("", [], Invalid, "name", "Name is required."),
        ("   ", [], Invalid, "name", "Name is required."),
        ("x" * 101, [], Invalid, "name", "Name can be at most 100 characters."),
        (
            " administrators ",
            [],
            Conflict,
            "name",
            "Another security group is already called administrators.",
        ),
        ("Auditors", ["Read Everything"], Invalid, "rights", "Choose rights from"),
    ],
    ids=["blank", "spaces", "too-long", "taken-in-another-case", "unknown-right"],
)
def test_a_group_needs_a_free_name_and_known_rights(
    db: Session,
    world: World,
    name: str,
    rights: list[str],
    error: type[Exception],
    field: str,
    message: str,
) -> None:
    with pytest.raises(error, match=message) as refused:
        security.create_group(db, world.actors["admin"], GroupFields(name, rights))

    assert getattr(refused.value, "field", None) == field


def test_another_firm_may_use_the_same_name(db: Session, world: World) -> None:
    created = security.create_group(
        db, world.actors["other"], GroupFields("Auditors", [])
    )
    again = security.create_group(
        db, world.actors["admin"], GroupFields("Auditors", [])
    )

    assert created.firm_id != again.firm_id


def test_renames_a_group_and_changes_its_rights(db: Session, world: World) -> None:
    editors = group(db, "Editors", acme(world))

    changed = security.update_group(
        db,
        world.actors["admin"],
        editors.id,
        GroupFields("Editors and deleters", [Right.DELETE_CONTACT.value]),
    )

    db.expire_all()
    assert db.get_one(SecurityGroup, editors.id).name == "Editors and deleters"
    assert security.rights_of(changed) == [Right.DELETE_CONTACT]
    assert events(db, "security_group", editors.id)[0].details == {
        "name": "Editors and deleters",
        "rights": ["Delete Contact"],
    }


def test_a_group_may_keep_its_own_name_in_another_case(
    db: Session, world: World
) -> None:
    editors = group(db, "Editors", acme(world))

    changed = security.update_group(
        db, world.actors["admin"], editors.id, GroupFields("EDITORS", [])
    )

    assert changed.name == "EDITORS"


def test_another_firms_group_is_not_found_like_a_missing_one(
    db: Session, world: World
) -> None:
    theirs = group(db, "Editors", world.firm_ids["Bright Benefits"])
    admin = world.actors["admin"]

    messages = []
    for group_id in (theirs.id, MISSING):
        with pytest.raises(NotFound) as missing:
            security.update_group(db, admin, group_id, GroupFields("Mine", []))
        messages.append(missing.value.message.replace(str(group_id), "{id}"))

    assert messages == ["No security group has the id {id}."] * 2
    with pytest.raises(NotFound):
        security.get_group(db, admin, theirs.id)


def test_sets_a_users_groups_and_so_their_rights(db: Session, world: World) -> None:
    editor = world.users["editor"]
    editors = group(db, "Editors", acme(world))
    keepers = security.create_group(
        db,
        world.actors["admin"],
        GroupFields("Type keepers", [Right.MAINTAIN_LIST_VALUES.value]),
    )

    changed = security.update_user(
        db, world.actors["admin"], editor.id, UserFields([keepers.id, editors.id])
    )

    assert [g.name for g in changed.security_groups] == ["Editors", "Type keepers"]
    entry = USERS["editor"]
    assert actor_for(db, entry.tenant.tenant_id, entry.object_id).rights == {
        Right.ADD_EDIT_INTERACTION,
        Right.DELETE_INTERACTION,
        Right.MAINTAIN_LIST_VALUES,
    }
    [event] = events(db, "user", editor.id)
    assert event.action == "update"
    assert event.details == {"groups": ["Editors", "Type keepers"], "is_active": True}


def test_a_deactivated_user_cannot_act(db: Session, world: World) -> None:
    reader = world.users["reader"]

    security.update_user(
        db, world.actors["admin"], reader.id, UserFields([], is_active=False)
    )

    entry = USERS["reader"]
    with pytest.raises(Unauthenticated):
        actor_for(db, entry.tenant.tenant_id, entry.object_id)


@pytest.mark.parametrize("foreign", ["user", "group"])
def test_another_firms_user_or_group_is_not_found_like_a_missing_one(
    db: Session, world: World, foreign: str
) -> None:
    theirs = {
        "user": world.users["other"].id,
        "group": group(db, "Readers", world.firm_ids["Bright Benefits"]).id,
    }
    readers = group(db, "Readers", acme(world)).id
    reader = world.users["reader"].id

    def attempt(record_id: int) -> str:
        user_id, group_id = (
            (record_id, readers) if foreign == "user" else (reader, record_id)
        )
        with pytest.raises(NotFound) as missing:
            security.update_user(
                db, world.actors["admin"], user_id, UserFields([group_id])
            )
        return missing.value.message.replace(str(record_id), "{id}")

    assert attempt(theirs[foreign]) == attempt(MISSING)
    assert [g.name for g in db.get_one(User, reader).security_groups] == ["Readers"]


LAST_ADMINISTRATOR_CHANGES: list[Callable[[Session, World], Any]] = [
    lambda db, world: security.update_group(
        db,
        world.actors["admin"],
        group(db, "Administrators", acme(world)).id,
        GroupFields("Administrators", [Right.MAINTAIN_LIST_VALUES.value]),
    ),
    lambda db, world: security.update_user(
        db,
        world.actors["admin"],
        world.users["admin"].id,
        UserFields([group(db, "Editors", acme(world)).id]),
    ),
    lambda db, world: security.update_user(
        db,
        world.actors["admin"],
        world.users["admin"].id,
        UserFields([group(db, "Administrators", acme(world)).id], is_active=False),
    ),
]


CHANGE_IDS = ["group-loses-the-right", "user-leaves-the-group", "user-deactivated"]


@pytest.mark.parametrize("change", LAST_ADMINISTRATOR_CHANGES, ids=CHANGE_IDS)
def test_the_last_administrator_keeps_the_right(
    db: Session, world: World, change: Callable[[Session, World], Any]
) -> None:
    with pytest.raises(Conflict, match="Nobody else would have the Administer Users"):
        change(db, world)

    db.expire_all()
    entry = USERS["admin"]
    actor = actor_for(db, entry.tenant.tenant_id, entry.object_id)
    assert Right.ADMINISTER_USERS in actor.rights
    assert db.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize("change", LAST_ADMINISTRATOR_CHANGES, ids=CHANGE_IDS)
def test_the_right_may_go_once_another_active_user_holds_it(
    db: Session, world: World, change: Callable[[Session, World], Any]
) -> None:
    admin = world.actors["admin"]
    keepers = security.create_group(
        db, admin, GroupFields("User keepers", [Right.ADMINISTER_USERS.value])
    )
    security.update_user(db, admin, world.users["reader"].id, UserFields([keepers.id]))

    change(db, world)


def test_an_inactive_holder_does_not_count(db: Session, world: World) -> None:
    admin = world.actors["admin"]
    administrators = group(db, "Administrators", acme(world))
    security.update_user(
        db,
        admin,
        world.users["reader"].id,
        UserFields([administrators.id], is_active=False),
    )

    with pytest.raises(Conflict):
        LAST_ADMINISTRATOR_CHANGES[0](db, world)
