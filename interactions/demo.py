"""The demo firm the embedded run seeds once: records, types, users, two years of mail.

Deterministic (a seeded random generator), so every newcomer sees the same data.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.models import (
    BaseName,
    BlastTemplate,
    Client,
    Contact,
    ContactEmail,
    ContactRole,
    Firm,
    InteractionType,
    Opportunity,
    Plan,
    Project,
    Proposal,
    Prospect,
    RecordType,
    Right,
    Source,
    Tier,
)
from interactions.models._types import utcnow
from interactions.services.access import Actor
from interactions.services.firms import add_user, register_firm
from interactions.services.interactions import (
    InteractionFields,
    MessageOrigin,
    ParticipantFields,
    create_interaction,
)
from interactions.services.records import RecordRef

RecordT = TypeVar("RecordT")


@dataclass(frozen=True)
class DemoUser:
    """A person of the identity provider's directory, as the seed needs them."""

    firm_name: str
    tier: str
    has_salespitch: bool
    tenant_id: str
    object_id: str
    email: str
    name: str
    rights: tuple[str, ...]


@dataclass(frozen=True)
class DemoCorrespondent:
    """Someone who writes to the demo users: a contact of every demo firm."""

    name: str
    address: str
    company: str


COMPANIES = [
    "Northwind Traders",
    "Contoso Manufacturing",
    "Fabrikam Dental",
    "Tailspin Toys",
    "Wingtip Logistics",
    "Adventure Works Cycles",
    "Litware Software",
    "Proseware Labs",
    "Coho Vineyard",
    "Alpine Ski House",
    "Blue Yonder Airlines",
    "Lucerne Publishing",
]
PLAN_KINDS = ["401(k) Plan", "Cash Balance Plan", "Profit Sharing Plan", "403(b) Plan"]
FIRST_NAMES = [
    "Dana",
    "Sam",
    "Priya",
    "Jordan",
    "Mei",
    "Luis",
    "Amara",
    "Noah",
    "Elena",
    "Kwame",
    "Sofia",
    "Hiro",
    "Fatima",
    "Owen",
    "Grace",
    "Mateo",
    "Ingrid",
    "Ravi",
    "Zoe",
    "Tomas",
]
LAST_NAMES = [
    "Rivera",
    "Chen",
    "Okafor",
    "Novak",
    "Haddad",
    "Kim",
    "Silva",
    "Larsen",
    "Patel",
    "Moreau",
    "Nguyen",
    "Brennan",
    "Costa",
    "Fischer",
    "Ito",
    "Mensah",
]
ROLES = ["Trustee", "Payroll Contact", "HR Director", "CFO", "Plan Sponsor", "Advisor"]
TOPICS = [
    "Census data request",
    "Annual compliance testing results",
    "Loan policy question",
    "Form 5500 signature",
    "Safe harbor notice",
    "Plan amendment draft",
    "Contribution deposit timing",
    "Distribution paperwork",
    "Fee disclosure",
    "Nondiscrimination testing follow-up",
    "Year-end valuation",
    "New hire eligibility",
]
INTERACTIONS_PER_FIRM = 300
#: The Blast Email templates a demo firm starts with: name, subject, body.
BLAST_TEMPLATES = [
    (
        "Census request",
        "{{plan.name}}: year-end census due",
        "Dear {{contact.first_name}},\n\nPlease send the year-end census for "
        "{{plan.name}} by the end of the month.\n\nThank you,\n{{sender.name}}",
    ),
    (
        "Fee disclosure notice",
        "Annual fee disclosure for {{client.name}}",
        "Dear {{contact.name}},\n\nThis year's fee disclosure is ready for your "
        "review; reply to this email with any question.\n\n{{sender.name}}",
    ),
]


def seed(
    session: Session,
    users: Iterable[DemoUser],
    correspondents: Iterable[DemoCorrespondent] = (),
) -> bool:
    """Seed the demo firms once; False when a firm is already there.

    Each firm with Interactions gets a contact for each correspondent, so that the
    demo mailboxes' senders match contacts.
    """
    if session.scalar(select(Firm.id).limit(1)) is not None:
        return False

    by_tenant: dict[str, list[DemoUser]] = {}
    for user in users:
        by_tenant.setdefault(user.tenant_id, []).append(user)

    for number, (tenant_id, members) in enumerate(sorted(by_tenant.items())):
        first = members[0]
        firm = register_firm(
            session, first.firm_name, Tier(first.tier), first.has_salespitch, tenant_id
        )
        people = [
            add_user(
                session,
                firm,
                member.object_id,
                member.email,
                member.name,
                [Right(right) for right in member.rights],
            )
            for member in members
        ]
        if firm.has_interactions:
            _seed_records(
                session,
                firm,
                Actor.of(people[0]),
                list(correspondents),
                random.Random(number),
            )

    return True


def _seed_records(
    session: Session,
    firm: Firm,
    actor: Actor,
    correspondents: list[DemoCorrespondent],
    rng: random.Random,
) -> None:
    records: list[RecordRef] = []
    contacts: list[Contact] = []
    companies = dict.fromkeys(COMPANIES + [c.company for c in correspondents])
    clients = {}
    for company in companies:
        client = clients[company] = _add(session, Client(firm_id=firm.id, name=company))
        for kind in rng.sample(PLAN_KINDS, rng.randint(1, 2)):
            plan = _add(
                session,
                Plan(firm_id=firm.id, client_id=client.id, name=f"{company} {kind}"),
            )
            _add(
                session,
                Project(
                    firm_id=firm.id,
                    plan_id=plan.id,
                    name=f"{rng.choice(['2025', '2026'])} Annual Administration",
                ),
            )
            records.append(RecordRef(RecordType.PLAN, plan.id))
            for _ in range(rng.randint(1, 3)):
                contact = _contact(session, firm.id, company, rng)
                contact.roles.append(
                    ContactRole(
                        firm_id=firm.id, plan_id=plan.id, role=rng.choice(ROLES)
                    )
                )
                contacts.append(contact)
        contact = _contact(session, firm.id, company, rng)
        contact.roles.append(
            ContactRole(firm_id=firm.id, client_id=client.id, role="Plan Sponsor")
        )
        contacts.append(contact)

    contacts += _correspondent_contacts(session, firm.id, correspondents, clients)
    session.flush()
    records += [RecordRef(RecordType.CONTACT, contact.id) for contact in contacts]
    if firm.has_salespitch:
        records += _seed_salespitch(session, firm.id, rng)

    _seed_interactions(session, firm, actor, records, contacts, rng)
    for name, subject, body in BLAST_TEMPLATES:
        session.add(
            BlastTemplate(
                firm_id=firm.id,
                name=name,
                subject=subject,
                body=body,
                created_by_id=actor.user_id,
                updated_by_id=actor.user_id,
            )
        )


def _correspondent_contacts(
    session: Session,
    firm_id: int,
    correspondents: list[DemoCorrespondent],
    clients: dict[str, Client],
) -> list[Contact]:
    """One contact a person, with each of their addresses, at their company."""
    by_name: dict[str, Contact] = {}
    for person in correspondents:
        contact = by_name.get(person.name)
        if contact is None:
            first, _, last = person.name.partition(" ")
            contact = by_name[person.name] = _add(
                session, Contact(firm_id=firm_id, first_name=first, last_name=last)
            )
            contact.roles.append(
                ContactRole(
                    firm_id=firm_id,
                    client_id=clients[person.company].id,
                    role="Plan Sponsor",
                )
            )
        contact.emails.append(
            ContactEmail(firm_id=firm_id, address=person.address.lower())
        )

    return list(by_name.values())


def _contact(
    session: Session, firm_id: int, company: str, rng: random.Random
) -> Contact:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = company.split()[0].lower() + ".example"
    contact = Contact(
        firm_id=firm_id,
        first_name=first,
        last_name=last,
        emails=[
            ContactEmail(firm_id=firm_id, address=f"{first}.{last}@{domain}".lower())
        ],
    )
    return _add(session, contact)


def _seed_salespitch(
    session: Session, firm_id: int, rng: random.Random
) -> list[RecordRef]:
    refs = []
    for name in [
        "Bellows College",
        "Humongous Insurance",
        "Trey Research",
        "VanArsdel Ltd",
    ]:
        prospect = _add(session, Prospect(firm_id=firm_id, name=name))
        opportunity = _add(
            session,
            Opportunity(
                firm_id=firm_id, name=f"{name} plan takeover", prospect_id=prospect.id
            ),
        )
        proposal = _add(
            session,
            Proposal(
                firm_id=firm_id,
                name=f"{name} fee proposal",
                opportunity_id=opportunity.id,
            ),
        )
        refs += [
            RecordRef(RecordType.PROSPECT, prospect.id),
            RecordRef(RecordType.OPPORTUNITY, opportunity.id),
            RecordRef(RecordType.PROPOSAL, proposal.id),
        ]

    return refs


def _seed_interactions(
    session: Session,
    firm: Firm,
    actor: Actor,
    records: list[RecordRef],
    contacts: list[Contact],
    rng: random.Random,
) -> None:
    types = {
        t.base_name: t
        for t in session.scalars(
            select(InteractionType).where(InteractionType.firm_id == firm.id)
        )
    }
    kinds = (
        [BaseName.EMAIL] * 6
        + [BaseName.PHONE_CALL] * 3
        + [BaseName.MEETING, BaseName.APPOINTMENT, BaseName.BLAST_EMAIL]
    )
    now = utcnow()
    for _ in range(INTERACTIONS_PER_FIRM):
        base_name = rng.choice(kinds)
        contact = rng.choice(contacts)
        source = (
            Source.BLAST_EMAIL if base_name is BaseName.BLAST_EMAIL else Source.MANUAL
        )
        links = [
            RecordRef(RecordType.CONTACT, contact.id),
            *rng.sample(records, rng.randint(1, 2)),
        ]
        roles = types[base_name].roles
        create_interaction(
            session,
            actor,
            InteractionFields(
                type_id=types[base_name].id,
                title=rng.choice(TOPICS),
                occurred_at=now - timedelta(minutes=rng.randint(30, 730 * 24 * 60)),
                duration_minutes=rng.choice([15, 30, 60])
                if base_name is not BaseName.EMAIL
                else None,
                body_text="Notes from the conversation with the plan sponsor.",
            ),
            links=links,
            participants=[
                ParticipantFields(role=roles[0], user_id=actor.user_id),
                ParticipantFields(
                    role=roles[1],
                    contact_id=contact.id,
                    address=contact.emails[0].address,
                ),
            ],
            origin=MessageOrigin(source=source),
        )


def _add(session: Session, record: RecordT) -> RecordT:
    session.add(record)
    session.flush()
    return record
