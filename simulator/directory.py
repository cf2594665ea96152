"""The people the simulator signs in: demo firms (Entra tenants) and their users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

ALL_RIGHTS = (
    "Add/Edit Interaction",
    "Delete Interaction",
    "Maintain List Values",
    "Administer Users",
    "Delete Contact",
)


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    firm_name: str
    tier: str
    has_salespitch: bool


@dataclass(frozen=True)
class DirectoryUser:
    tenant: Tenant
    object_id: str
    email: str
    name: str
    password: str
    rights: tuple[str, ...]


@dataclass
class Directory:
    users: list[DirectoryUser] = field(default_factory=list)

    def find(self, tenant_id: str, email: str) -> DirectoryUser | None:
        return next(
            (
                user
                for user in self.users
                if user.tenant.tenant_id == tenant_id
                and user.email.lower() == email.lower()
            ),
            None,
        )

    def by_object_id(self, object_id: str) -> DirectoryUser | None:
        return next((user for user in self.users if user.object_id == object_id), None)


def _id(name: str) -> str:
    """Stable ids, so that a restarted simulator still matches the seeded database."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"interactions-demo:{name}"))


def demo_directory() -> Directory:
    summit = Tenant(_id("summit"), "Summit Pension Partners", "Business", True)
    harbor = Tenant(_id("harbor"), "Harbor Retirement Services", "Team", False)
    ledger = Tenant(_id("ledger"), "Ledger Lite Administrators", "Track", False)
    password = "demo"

    def user(tenant: Tenant, handle: str, name: str, *rights: str) -> DirectoryUser:
        domain = tenant.firm_name.split()[0].lower() + ".example"
        return DirectoryUser(
            tenant,
            _id(f"{handle}@{domain}"),
            f"{handle}@{domain}",
            name,
            password,
            rights,
        )

    return Directory(
        [
            user(summit, "avery", "Avery Admin", *ALL_RIGHTS),
            user(summit, "erin", "Erin Editor", *ALL_RIGHTS[:2]),
            user(summit, "rory", "Rory Reader"),
            user(harbor, "hana", "Hana Harbor", *ALL_RIGHTS),
            user(ledger, "lee", "Lee Ledger", *ALL_RIGHTS),
        ]
    )
