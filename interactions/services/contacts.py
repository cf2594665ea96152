"""Contacts as interactions see them: matching addresses, and guarded deletion."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from interactions.errors import Conflict, Invalid
from interactions.models import (
    Contact,
    ContactEmail,
    Link,
    Participant,
    RecordType,
    Right,
)
from interactions.services import audit
from interactions.services.access import (
    Actor,
    get_owned,
    require_interactions,
    require_right,
)

MATCH_ADDRESSES_MAX = 500


@dataclass(frozen=True)
class ContactMatch:
    contact_id: int
    name: str


def normalize_address(address: str) -> str:
    return address.strip().lower()


def match_contacts(
    session: Session, actor: Actor, addresses: list[str]
) -> dict[str, list[ContactMatch]]:
    """Every contact each address belongs to; an address may match several."""
    require_interactions(actor)
    if len(addresses) > MATCH_ADDRESSES_MAX:
        raise Invalid(
            f"Match at most {MATCH_ADDRESSES_MAX} addresses at a time.", "email"
        )

    return match_addresses(session, actor.firm_id, addresses)


# Built once: every stored capture runs it.
_MATCHES = (
    select(ContactEmail.address, Contact.id, Contact.first_name, Contact.last_name)
    .join(Contact, Contact.id == ContactEmail.contact_id)
    .where(
        ContactEmail.firm_id == bindparam("firm_id"),
        ContactEmail.address.in_(bindparam("addresses", expanding=True)),
    )
    .order_by(Contact.last_name, Contact.first_name, Contact.id)
)


def match_addresses(
    session: Session, firm_id: int, addresses: list[str]
) -> dict[str, list[ContactMatch]]:
    """Each normalized address with the firm's contacts that have it."""
    wanted = {normalize_address(address) for address in addresses if address.strip()}
    matches: dict[str, list[ContactMatch]] = {address: [] for address in sorted(wanted)}
    if not wanted:
        return matches

    rows = session.execute(
        _MATCHES, {"firm_id": firm_id, "addresses": sorted(wanted)}
    ).all()
    for address, contact_id, first_name, last_name in rows:
        name = f"{first_name} {last_name}".strip()
        matches[address].append(ContactMatch(contact_id, name))

    return matches


def count_interactions(session: Session, firm_id: int, contact_id: int) -> int:
    """Interactions that link to the contact or have it as a participant."""
    linked = select(Link.interaction_id).where(
        Link.firm_id == firm_id,
        Link.record_type == RecordType.CONTACT,
        Link.record_id == contact_id,
    )
    participating = select(Participant.interaction_id).where(
        Participant.firm_id == firm_id, Participant.contact_id == contact_id
    )
    both = linked.union(participating).subquery()

    return session.scalar(select(func.count()).select_from(both)) or 0


def delete_contact(session: Session, actor: Actor, contact_id: int) -> None:
    require_right(actor, Right.DELETE_CONTACT)
    contact = get_owned(session, Contact, contact_id, actor)
    count = count_interactions(session, actor.firm_id, contact.id)
    if count:
        noun = "interaction" if count == 1 else "interactions"
        raise Conflict(
            f"{contact.name} has {count} {noun}; "
            "delete them before deleting the contact."
        )

    session.delete(contact)
    session.flush()
    audit.record(
        session, actor, "delete", "contact", contact_id, details={"name": contact.name}
    )
