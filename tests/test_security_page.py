"""Maintenance > Users and rights on the admin page."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.models import AuditEvent, Right, SecurityGroup, User
from interactions.services import security
from tests.browsing import Browser, Forms
from tests.conftest import World

GROUPS = "/maintenance/security/groups"
USERS_PAGE = "/maintenance/security/users"
MISSING = 987654


def token(visitor: Browser, path: str) -> str:
    forms = Forms()
    forms.feed(visitor.get(path).text)
    return [f for f in forms.forms if "csrf_token" in f["fields"]][-1]["fields"][
        "csrf_token"
    ]


def group(
    db: Session, world: World, name: str, firm: str = "Acme Pensions"
) -> SecurityGroup:
    return db.scalars(
        select(SecurityGroup).where(
            SecurityGroup.firm_id == world.firm_ids[firm], SecurityGroup.name == name
        )
    ).one()


def test_lists_the_groups_with_their_rights_and_members(
    visitor: Browser, db: Session, world: World
) -> None:
    security.create_group(
        db, world.actors["other"], security.GroupFields("Bright auditors", [])
    )
    visitor.sign_in("admin")

    page = html.unescape(visitor.get(GROUPS).text)

    assert "Administrators" in page
    assert "<td>Add/Edit Interaction, Delete Interaction</td>" in page
    assert "<td>None</td>" in page
    assert "Bright auditors" not in page


def test_lists_the_users_with_their_groups(visitor: Browser) -> None:
    visitor.sign_in("admin")

    page = visitor.get(USERS_PAGE).text

    assert "editor@acme.test" in page
    assert "Custom: Add/Edit Interaction" in page
    assert "other@bright.test" not in page


@pytest.mark.parametrize(
    "path", [GROUPS, f"{GROUPS}/new", USERS_PAGE, f"{USERS_PAGE}/1"]
)
def test_the_pages_need_administer_users(visitor: Browser, path: str) -> None:
    visitor.sign_in("editor")

    answer = visitor.get(path)

    assert answer.status_code == 403
    assert "Not allowed" in answer.text
    assert "You need the Administer Users right to do this." in answer.text


def test_the_menu_offers_users_and_rights_with_administer_users(
    visitor: Browser,
) -> None:
    visitor.sign_in("admin")

    menu = visitor.get("/").text

    assert "Users and rights" in menu
    assert f'href="{GROUPS}"' in menu
    assert f'href="{USERS_PAGE}"' in menu


def test_the_menu_shows_each_entry_with_its_own_right(
    visitor: Browser, db: Session, world: World
) -> None:
    visitor.sign_in("editor")
    assert "Maintenance</summary>" not in visitor.get("/").text
    keepers = security.create_group(
        db,
        world.actors["admin"],
        security.GroupFields("Type keepers", [Right.MAINTAIN_LIST_VALUES.value]),
    )
    security.update_user(
        db,
        world.actors["admin"],
        world.users["editor"].id,
        security.UserFields([keepers.id]),
    )

    menu = visitor.get("/").text

    assert "Maintenance</summary>" in menu
    assert 'href="/maintenance/list-values/interaction"' in menu
    assert "Users and rights" not in menu


def test_adds_a_group_with_its_rights(
    visitor: Browser, db: Session, world: World
) -> None:
    visitor.sign_in("admin")
    path = f"{GROUPS}/new"
    assert 'type="checkbox" name="rights" value="Administer Users"' in (
        visitor.get(path).text
    )

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "name": "Type keepers",
            "rights": ["Maintain List Values", "Add/Edit Interaction"],
        },
    )

    assert answer.status_code == 302
    added = group(db, world, "Type keepers")
    assert security.rights_of(added) == [
        Right.ADD_EDIT_INTERACTION,
        Right.MAINTAIN_LIST_VALUES,
    ]
    assert "Security group “Type keepers” added." in visitor.get(GROUPS).text
    assert db.scalars(
        select(AuditEvent).where(
            AuditEvent.record_type == "security_group",
            AuditEvent.record_id == added.id,
            AuditEvent.action == "create",
        )
    ).one()


def test_a_taken_name_is_refused_beside_the_field(visitor: Browser) -> None:
    visitor.sign_in("admin")
    path = f"{GROUPS}/new"

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "name": "editors",
            "rights": "Delete Contact",
        },
    )

    assert answer.status_code == 409
    assert "Another security group is already called editors." in answer.text
    assert 'aria-invalid="true" aria-describedby="name-error"' in answer.text
    assert 'value="Delete Contact" checked' in answer.text


def test_edits_a_groups_name_and_rights(
    visitor: Browser, db: Session, world: World
) -> None:
    editors = group(db, world, "Editors")
    visitor.sign_in("admin")
    path = f"{GROUPS}/{editors.id}"
    assert 'value="Delete Interaction" checked' in visitor.get(path).text

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "name": "Writers",
            "rights": "Add/Edit Interaction",
        },
    )

    assert answer.status_code == 302
    db.expire_all()
    assert editors.name == "Writers"
    assert security.rights_of(editors) == [Right.ADD_EDIT_INTERACTION]


def test_ticks_a_users_groups(visitor: Browser, db: Session, world: World) -> None:
    reader = world.users["reader"]
    editors = group(db, world, "Editors")
    visitor.sign_in("admin")
    path = f"{USERS_PAGE}/{reader.id}"

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "groups": str(editors.id),
            "is_active": "on",
        },
    )

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(USERS_PAGE)
    db.expire_all()
    assert [g.name for g in db.get_one(User, reader.id).security_groups] == ["Editors"]
    assert "User “Reader” saved." in visitor.get(USERS_PAGE).text
    [event] = db.scalars(
        select(AuditEvent).where(
            AuditEvent.record_type == "user", AuditEvent.record_id == reader.id
        )
    )
    assert event.details == {"groups": ["Editors"], "is_active": True}


def test_a_deactivated_user_can_no_longer_sign_in(
    visitor: Browser, db: Session, world: World
) -> None:
    reader = world.users["reader"]
    readers = group(db, world, "Readers")
    visitor.sign_in("admin")
    path = f"{USERS_PAGE}/{reader.id}"

    saved = visitor.post(
        path, {"csrf_token": token(visitor, path), "groups": str(readers.id)}
    )

    assert saved.status_code == 302
    assert "No (cannot sign in)" in visitor.get(USERS_PAGE).text
    assert visitor.sign_in("reader").status_code == 403


def test_the_last_administrator_is_kept_with_a_reason(
    visitor: Browser, db: Session, world: World
) -> None:
    admin = world.users["admin"]
    readers = group(db, world, "Readers")
    visitor.sign_in("admin")
    path = f"{USERS_PAGE}/{admin.id}"

    answer = visitor.post(
        path, {"csrf_token": token(visitor, path), "groups": str(readers.id)}
    )

    assert answer.status_code == 409
    assert "Nobody else would have the Administer Users right" in answer.text
    assert 'aria-describedby="groups-hint groups-error"' in answer.text
    db.expire_all()
    assert Right.ADMINISTER_USERS in db.get_one(User, admin.id).rights
    assert visitor.get(USERS_PAGE).status_code == 200


def test_giving_up_ones_own_right_goes_home(
    visitor: Browser, db: Session, world: World
) -> None:
    administrators = group(db, world, "Administrators")
    security.update_user(
        db,
        world.actors["admin"],
        world.users["reader"].id,
        security.UserFields([administrators.id]),
    )
    visitor.sign_in("admin")
    path = f"{USERS_PAGE}/{world.users['admin'].id}"

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "groups": str(group(db, world, "Editors").id),
            "is_active": "on",
        },
    )

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    assert "User “Admin” saved." in visitor.get("/").text


@pytest.mark.parametrize("kind", ["group", "user"])
def test_another_firms_ids_are_not_found(
    visitor: Browser, db: Session, world: World, kind: str
) -> None:
    theirs = {
        "group": group(db, world, "Editors", "Bright Benefits").id,
        "user": world.users["other"].id,
    }[kind]
    base = GROUPS if kind == "group" else USERS_PAGE
    visitor.sign_in("admin")

    foreign = visitor.get(f"{base}/{theirs}")
    absent = visitor.get(f"{base}/{MISSING}")

    assert foreign.status_code == absent.status_code == 404
    assert f"No {'security group' if kind == 'group' else 'user'} has the id" in (
        foreign.text
    )


def test_another_firms_group_cannot_be_ticked(
    visitor: Browser, db: Session, world: World
) -> None:
    reader = world.users["reader"]
    visitor.sign_in("admin")
    path = f"{USERS_PAGE}/{reader.id}"

    answer = visitor.post(
        path,
        {
            "csrf_token": token(visitor, path),
            "groups": str(group(db, world, "Administrators", "Bright Benefits").id),
        },
    )

    assert answer.status_code == 404
    db.expire_all()
    assert [g.name for g in db.get_one(User, reader.id).security_groups] == ["Readers"]


@pytest.mark.parametrize("path", [f"{GROUPS}/new", USERS_PAGE + "/{reader}"])
def test_a_form_without_its_token_changes_nothing(
    visitor: Browser, db: Session, world: World, path: str
) -> None:
    visitor.sign_in("admin")

    answer = visitor.post(
        path.format(reader=world.users["reader"].id),
        {"name": "Sneaky", "groups": str(group(db, world, "Administrators").id)},
    )

    assert answer.status_code == 400
    assert "reload the page" in answer.text
    assert db.scalars(select(AuditEvent)).all() == []
