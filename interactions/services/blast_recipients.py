"""Whom a Blast Email goes to: a plan's contacts, a client's (at the client or at
one of its plans), or contacts chosen by hand.

Each contact comes once, with its first email address. A contact the blast cannot
reach is listed as skipped with the reason: it has no address, or the template
names a plan or a client the contact has none of in this selection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from interactions.errors import Invalid
from interactions.mail import merge
from interactions.models import BlastTemplate, Client, Contact, ContactRole, Plan, Right
from interactions.services.access import Actor, get_owned, require_right


class Audience(enum.StrEnum):
    PLAN = "plan"
    CLIENT = "client"
    HAND = "hand"


@dataclass(frozen=True)
class Selection:
    """Whom to send to: a plan's contacts, a client's, or contacts chosen by hand."""

    audience: Audience
    plan_id: int | None = None
    client_id: int | None = None
    contact_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Chosen:
    contact: Contact
    address: str
    plan: Plan | None
    client: Client | None


@dataclass(frozen=True)
class Skipped:
    contact: Contact
    reason: str


@dataclass(frozen=True)
class Recipients:
    chosen: list[Chosen]
    skipped: list[Skipped]
    #: The plan or client chosen, by name, when the audience is one.
    source_name: str = ""


def parse_audience(value: str) -> Audience:
    try:
        return Audience(value)
    except ValueError:
        raise Invalid(
            "Choose whom to send to: a plan, a client, or contacts.", "audience"
        ) from None


def select_recipients(
    session: Session,
    actor: Actor,
    selection: Selection,
    template: BlastTemplate | None = None,
) -> Recipients:
    """Each contact once, with its first address; the others skipped with why."""
    require_right(actor, Right.ADD_EDIT_INTERACTION)
    contacts, source_name = _audience(session, actor, selection)
    needs = set(
        merge.fields_in(f"{template.subject} {template.body}" if template else "")
    )
    chosen: list[Chosen] = []
    skipped: list[Skipped] = []
    for contact, plan, client in contacts:
        reason = _unreachable(contact, plan, client, needs)
        if reason:
            skipped.append(Skipped(contact, reason))
        else:
            chosen.append(Chosen(contact, contact.emails[0].address, plan, client))

    return Recipients(chosen, skipped, source_name)


_Contacts = list[tuple[Contact, Plan | None, Client | None]]


def _audience(
    session: Session, actor: Actor, selection: Selection
) -> tuple[_Contacts, str]:
    if selection.audience is Audience.PLAN:
        if selection.plan_id is None:
            raise Invalid("Choose the plan whose contacts get the email.", "plan_id")
        plan = get_owned(session, Plan, selection.plan_id, actor)
        client = session.get_one(Client, plan.client_id)
        found = _with_roles(session, actor, ContactRole.plan_id == plan.id)
        return [(contact, plan, client) for contact in found], plan.name

    if selection.audience is Audience.CLIENT:
        if selection.client_id is None:
            raise Invalid(
                "Choose the client whose contacts get the email.", "client_id"
            )
        client = get_owned(session, Client, selection.client_id, actor)
        return _client_contacts(session, actor, client), client.name

    if not selection.contact_ids:
        raise Invalid("Choose at least one contact.", "contact_ids")
    contacts = [
        get_owned(session, Contact, contact_id, actor)
        for contact_id in dict.fromkeys(selection.contact_ids)
    ]
    return [(contact, None, None) for contact in contacts], ""


def _with_roles(
    session: Session, actor: Actor, where: ColumnElement[bool]
) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(
                Contact.firm_id == actor.firm_id,
                Contact.id.in_(select(ContactRole.contact_id).where(where)),
            )
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
        )
    )


def _client_contacts(session: Session, actor: Actor, client: Client) -> _Contacts:
    """The client's contacts, each with the first of the client's plans it is at."""
    plans = list(
        session.scalars(
            select(Plan).where(Plan.client_id == client.id).order_by(Plan.name, Plan.id)
        )
    )
    plan_ids = [plan.id for plan in plans]
    found = _with_roles(
        session,
        actor,
        or_(ContactRole.client_id == client.id, ContactRole.plan_id.in_(plan_ids)),
    )
    result: _Contacts = []
    for contact in found:
        at = {role.plan_id for role in contact.roles}
        plan = next((plan for plan in plans if plan.id in at), None)
        result.append((contact, plan, client))

    return result


def _unreachable(
    contact: Contact, plan: Plan | None, client: Client | None, needs: set[str]
) -> str:
    if not contact.emails:
        return "No email address."
    if plan is None and "plan.name" in needs:
        return "No plan to fill in {{plan.name}}."
    if client is None and "client.name" in needs:
        return "No client to fill in {{client.name}}."
    return ""
