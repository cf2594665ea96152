"""The CRM records interactions are shown on and linked to: lookup and search."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, literal, or_, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from interactions.db import MAX_ID, Base
from interactions.errors import Invalid
from interactions.models import (
    LINKABLE,
    SALESPITCH,
    Client,
    Contact,
    ContactEmail,
    ContactRole,
    Opportunity,
    Plan,
    Project,
    Proposal,
    Prospect,
    RecordType,
)
from interactions.services.access import (
    Actor,
    get_owned,
    require_interactions,
    require_record_type,
)


@dataclass(frozen=True)
class Kind:
    """How to find and name the records of one kind."""

    model: type[Base]
    id: InstrumentedAttribute[int]
    firm_id: InstrumentedAttribute[int]
    name: ColumnElement[str]


def _kind(model: Any, name: ColumnElement[str] | None = None) -> Kind:
    return Kind(model, model.id, model.firm_id, model.name if name is None else name)


KINDS: dict[RecordType, Kind] = {
    RecordType.CLIENT: _kind(Client),
    RecordType.PLAN: _kind(Plan),
    RecordType.PROJECT: _kind(Project),
    RecordType.CONTACT: _kind(
        Contact, Contact.first_name + literal(" ") + Contact.last_name
    ),
    RecordType.OPPORTUNITY: _kind(Opportunity),
    RecordType.PROPOSAL: _kind(Proposal),
    RecordType.PROSPECT: _kind(Prospect),
}

#: What to link instead when someone tries to link an interaction to these.
UNLINKABLE_ADVICE = {
    RecordType.CLIENT: (
        "Interactions cannot be linked to a client; link them to the client's plans "
        "or contacts, and the client's tab shows them."
    ),
    RecordType.PROJECT: (
        "Interactions cannot be linked to a project; link them to the project's plan."
    ),
}

SEARCH_LIMIT = 10


@dataclass(frozen=True)
class RecordRef:
    record_type: RecordType
    record_id: int


@dataclass(frozen=True)
class RecordSummary:
    record_type: RecordType
    record_id: int
    name: str
    detail: str = ""


def parse_record_type(value: str, field: str = "record_type") -> RecordType:
    try:
        return RecordType(value)
    except ValueError:
        kinds = ", ".join(kind.value for kind in RecordType)
        raise Invalid(f"Record type must be one of: {kinds}.", field) from None


def require_record(session: Session, actor: Actor, ref: RecordRef) -> Base:
    """The record in the actor's firm, checking the add-on its kind needs."""
    require_record_type(actor, ref.record_type)
    return get_owned(session, KINDS[ref.record_type].model, ref.record_id, actor)


def require_linkable(
    session: Session, actor: Actor, ref: RecordRef, field: str = "record_type"
) -> None:
    if ref.record_type not in LINKABLE:
        raise Invalid(UNLINKABLE_ADVICE[ref.record_type], field)

    require_record(session, actor, ref)


def parse_ref(value: str, field: str = "record") -> RecordRef:
    """A record written ``kind:id``, as forms and queries carry it."""
    kind, _, number = value.partition(":")
    if not number.isdigit() or not 0 < int(number) <= MAX_ID:
        raise Invalid("The record is not valid: write it as kind:id.", field)

    return RecordRef(parse_record_type(kind, field), int(number))


def parse_link(
    session: Session, actor: Actor, value: str, field: str = "record"
) -> RecordRef:
    """A record to link, written ``kind:id``."""
    ref = parse_ref(value, field)
    require_linkable(session, actor, ref, field)
    return ref


def names(
    session: Session, firm_id: int, refs: Iterable[RecordRef]
) -> dict[RecordRef, str]:
    """The display name of each record, in one query."""
    by_type: dict[RecordType, set[int]] = {}
    for ref in refs:
        by_type.setdefault(ref.record_type, set()).add(ref.record_id)

    if not by_type:
        return {}

    queries = [
        select(literal(record_type.value), kind.id, kind.name).where(
            kind.id.in_(ids), kind.firm_id == firm_id
        )
        for record_type, ids in by_type.items()
        for kind in [KINDS[record_type]]
    ]
    rows = session.execute(union_all(*queries)).all()
    return {
        RecordRef(RecordType(kind), record_id): name for kind, record_id, name in rows
    }


def search(
    session: Session, actor: Actor, types: list[RecordType], query: str
) -> list[RecordSummary]:
    """Records of the given kinds whose name contains ``query``, for linking."""
    require_interactions(actor)
    for record_type in types:
        if record_type not in LINKABLE:
            raise Invalid(UNLINKABLE_ADVICE[record_type], "types")
        require_record_type(actor, record_type)

    text = query.strip()
    if not text:
        return []

    results: list[RecordSummary] = []
    for record_type in types:
        results.extend(_search_one(session, actor.firm_id, record_type, text))

    return results


#: The kinds of record that have an Interactions tab, in the order a search lists them.
WITH_TAB = (
    RecordType.CLIENT,
    RecordType.PLAN,
    RecordType.CONTACT,
    RecordType.OPPORTUNITY,
    RecordType.PROPOSAL,
    RecordType.PROSPECT,
)


def find(session: Session, actor: Actor, query: str) -> list[RecordSummary]:
    """Records with an Interactions tab whose name contains ``query``, to open one."""
    require_interactions(actor)
    text = query.strip()
    if not text:
        return []

    results: list[RecordSummary] = []
    for record_type in WITH_TAB:
        if record_type in SALESPITCH and not actor.has_salespitch:
            continue
        results.extend(_search_one(session, actor.firm_id, record_type, text))

    return results


def _search_one(
    session: Session, firm_id: int, record_type: RecordType, text: str
) -> list[RecordSummary]:
    kind = KINDS[record_type]
    name = kind.name
    if record_type is RecordType.PLAN:
        query = select(Plan.id, name, Client.name).join(
            Client, Client.id == Plan.client_id
        )
        matches = Plan.name.icontains(text, autoescape=True)
    elif record_type is RecordType.CONTACT:
        email = (
            select(ContactEmail.address)
            .where(ContactEmail.contact_id == Contact.id)
            .order_by(ContactEmail.id)
            .limit(1)
            .scalar_subquery()
        )
        query = select(Contact.id, name, email)
        matches = or_(
            name.icontains(text, autoescape=True),
            Contact.id.in_(
                select(ContactEmail.contact_id).where(
                    ContactEmail.firm_id == firm_id,
                    ContactEmail.address.icontains(text, autoescape=True),
                )
            ),
        )
    else:
        query = select(kind.id, name, literal(""))
        matches = name.icontains(text, autoescape=True)

    rows = session.execute(
        query.where(kind.firm_id == firm_id, matches).order_by(name).limit(SEARCH_LIMIT)
    ).all()
    return [
        RecordSummary(record_type, record_id, record_name, detail or "")
        for record_id, record_name, detail in rows
    ]


def client_members(session: Session, firm_id: int, client_id: int) -> list[RecordRef]:
    """The plans and contacts whose interactions a client's tab rolls up."""
    plan_ids = list(
        session.scalars(
            select(Plan.id).where(Plan.firm_id == firm_id, Plan.client_id == client_id)
        )
    )
    contact_ids = session.scalars(
        select(ContactRole.contact_id)
        .where(
            ContactRole.firm_id == firm_id,
            or_(
                ContactRole.client_id == client_id,
                ContactRole.plan_id.in_(plan_ids),
            ),
        )
        .distinct()
    )
    return [RecordRef(RecordType.PLAN, plan_id) for plan_id in plan_ids] + [
        RecordRef(RecordType.CONTACT, contact_id) for contact_id in contact_ids
    ]
