"""Reads of interactions: a record's grid, one interaction, and Show For Last.

A grid page is cut from the link index (record, occurred at, interaction) before
anything else is read, so its cost does not grow with the record's history. A
client's grid is the union of its plans' and contacts' grids: each member's newest
rows are cut separately, then merged, so each interaction shows once.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, desc, select, tuple_, union_all
from sqlalchemy.orm import Session

from interactions.errors import Invalid
from interactions.models import (
    SYSTEM_BASE_NAMES,
    Interaction,
    InteractionType,
    Link,
    Participant,
    RecordType,
    User,
)
from interactions.models._types import utcnow
from interactions.services.access import Actor, get_owned, require_interactions
from interactions.services.records import (
    RecordRef,
    client_members,
    names,
    require_record,
)

PAGE_SIZE = 50
PAGE_SIZE_MAX = 200


class ShowForLast(enum.StrEnum):
    ONE_MONTH = "1m"
    THREE_MONTHS = "3m"
    SIX_MONTHS = "6m"
    TWELVE_MONTHS = "12m"
    TWENTY_FOUR_MONTHS = "24m"
    ALL = "all"

    def since(self, now: datetime) -> datetime | None:
        """The earliest occurrence the grid shows, or None for all of them."""
        if self is ShowForLast.ALL:
            return None

        months = int(self.value.removesuffix("m"))
        year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
        day = min(now.day, _days_in_month(year, month + 1))
        return now.replace(year=year, month=month + 1, day=day)


DEFAULT_SHOW_FOR_LAST = ShowForLast.SIX_MONTHS


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return (following - datetime(year, month, 1, tzinfo=UTC)).days


def parse_show_for_last(value: str | None) -> ShowForLast:
    if not value:
        return DEFAULT_SHOW_FOR_LAST

    try:
        return ShowForLast(value.lower())
    except ValueError:
        choices = ", ".join(choice.value for choice in ShowForLast)
        raise Invalid(
            f"Show for last must be one of: {choices}.", "show_for_last"
        ) from None


@dataclass(frozen=True)
class Cursor:
    occurred_at: datetime
    interaction_id: int

    def encode(self) -> str:
        raw = f"{self.occurred_at.isoformat()}|{self.interaction_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            moment, _, identifier = (
                base64.urlsafe_b64decode(token).decode().partition("|")
            )
            occurred_at = datetime.fromisoformat(moment)
            if occurred_at.tzinfo is None:
                raise ValueError("naive")
            return cls(occurred_at, int(identifier))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise Invalid("The page cursor is not valid.", "before") from None


@dataclass(frozen=True)
class GridParticipant:
    role: str
    display_name: str
    contact_id: int | None
    address: str | None


@dataclass(frozen=True)
class GridLink:
    record_type: RecordType
    record_id: int
    name: str


@dataclass(frozen=True)
class GridRow:
    id: int
    occurred_at: datetime
    type_id: int
    type_name: str
    base_name: str
    title: str
    source: str
    created_by: str
    is_editable: bool
    participants: list[GridParticipant]
    links: list[GridLink]


@dataclass(frozen=True)
class GridPage:
    rows: list[GridRow]
    next_cursor: str | None


def record_grid(
    session: Session,
    actor: Actor,
    record: RecordRef,
    show_for_last: ShowForLast = DEFAULT_SHOW_FOR_LAST,
    limit: int = PAGE_SIZE,
    before: Cursor | None = None,
) -> GridPage:
    """One page of a record's interactions, newest first."""
    require_interactions(actor)
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise Invalid(f"Limit must be between 1 and {PAGE_SIZE_MAX}.", "limit")

    if record.record_type is RecordType.PROJECT:
        raise Invalid(
            "Projects have no interactions; open the project's plan instead.", "record"
        )

    require_record(session, actor, record)
    members = (
        client_members(session, actor.firm_id, record.record_id)
        if record.record_type is RecordType.CLIENT
        else [record]
    )
    if not members:
        return GridPage([], None)

    since = show_for_last.since(utcnow())
    branches = [
        _member_page(actor.firm_id, m, since, before, limit + 1) for m in members
    ]
    if len(branches) == 1:
        page_query = branches[0]
    else:
        merged = union_all(
            *(branch.subquery().select() for branch in branches)
        ).subquery()
        page_query = (
            select(merged.c.interaction_id, merged.c.occurred_at)
            .distinct()
            .order_by(desc(merged.c.occurred_at), desc(merged.c.interaction_id))
            .limit(limit + 1)
        )

    page = session.execute(page_query).all()
    rows = _rows(session, actor.firm_id, [row.interaction_id for row in page[:limit]])
    next_cursor = None
    if len(page) > limit:
        last = page[limit - 1]
        next_cursor = Cursor(last.occurred_at, last.interaction_id).encode()

    return GridPage(rows, next_cursor)


def _member_page(
    firm_id: int,
    member: RecordRef,
    since: datetime | None,
    before: Cursor | None,
    limit: int,
) -> Select[int, datetime]:
    query = select(Link.interaction_id, Link.occurred_at).where(
        Link.firm_id == firm_id,
        Link.record_type == member.record_type,
        Link.record_id == member.record_id,
    )
    if since is not None:
        query = query.where(Link.occurred_at >= since)
    if before is not None:
        query = query.where(
            tuple_(Link.occurred_at, Link.interaction_id)
            < tuple_(before.occurred_at, before.interaction_id)
        )

    return query.order_by(desc(Link.occurred_at), desc(Link.interaction_id)).limit(
        limit
    )


def _rows(session: Session, firm_id: int, ids: list[int]) -> list[GridRow]:
    if not ids:
        return []

    interactions = session.execute(
        select(
            Interaction.id,
            Interaction.occurred_at,
            Interaction.title,
            Interaction.source,
            InteractionType.id.label("type_id"),
            InteractionType.display_name,
            InteractionType.base_name,
            User.name.label("created_by"),
        )
        .join(InteractionType, InteractionType.id == Interaction.type_id)
        .outerjoin(User, User.id == Interaction.created_by_id)
        .where(Interaction.id.in_(ids), Interaction.firm_id == firm_id)
    ).all()
    participants: dict[int, list[GridParticipant]] = {}
    for p in session.execute(
        select(Participant)
        .where(Participant.interaction_id.in_(ids))
        .order_by(Participant.id)
    ).scalars():
        participants.setdefault(p.interaction_id, []).append(
            GridParticipant(p.role, p.display_name, p.contact_id, p.address)
        )

    links = links_of(session, firm_id, ids)
    by_id = {row.id: row for row in interactions}

    return [
        GridRow(
            id=row.id,
            occurred_at=row.occurred_at,
            type_id=row.type_id,
            type_name=row.display_name,
            base_name=row.base_name.value,
            title=row.title,
            source=row.source.value,
            created_by=row.created_by or "",
            is_editable=row.base_name not in SYSTEM_BASE_NAMES,
            participants=participants.get(row.id, []),
            links=links.get(row.id, []),
        )
        for row in (by_id[i] for i in ids if i in by_id)
    ]


def links_of(
    session: Session, firm_id: int, ids: list[int]
) -> dict[int, list[GridLink]]:
    """Each interaction's links with the names of the linked records."""
    rows = session.execute(
        select(Link.interaction_id, Link.record_type, Link.record_id)
        .where(Link.interaction_id.in_(ids))
        .order_by(Link.id)
    ).all()
    refs = [RecordRef(row.record_type, row.record_id) for row in rows]
    known = names(session, firm_id, refs)
    links: dict[int, list[GridLink]] = {}
    for row, ref in zip(rows, refs, strict=True):
        links.setdefault(row.interaction_id, []).append(
            GridLink(ref.record_type, ref.record_id, known.get(ref, ""))
        )

    return links


def get_interaction(session: Session, actor: Actor, interaction_id: int) -> Interaction:
    require_interactions(actor)
    return get_owned(session, Interaction, interaction_id, actor)
