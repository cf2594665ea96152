"""Reads of interactions: a record's grid, one interaction, and Show For Last.

A grid page is cut from the link index (record, occurred at, interaction) before
anything else is read, so its cost does not grow with the record's history. A
client's grid is the union of its plans' and contacts' grids: on PostgreSQL each
member's newest rows are cut separately, then merged, so each interaction shows
once.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    FunctionElement,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    desc,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import SQLCoreOperations

from interactions.db import MAX_ID
from interactions.errors import Invalid
from interactions.models import (
    LINKABLE,
    SYSTEM_BASE_NAMES,
    ContactRole,
    Interaction,
    InteractionType,
    Link,
    Participant,
    Plan,
    RecordType,
    User,
)
from interactions.models._types import utcnow
from interactions.services.access import (
    Actor,
    get_owned,
    require_interactions,
    require_record_type,
)
from interactions.services.records import (
    KINDS,
    RecordRef,
    require_record,
)

PAGE_SIZE = 50
PAGE_SIZE_MAX = 200
SEARCH_MAX = 200


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
            if occurred_at.tzinfo is None or not 0 <= int(identifier) <= MAX_ID:
                raise ValueError("naive, or no id")
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
    search: str = "",
) -> GridPage:
    """One page of a record's interactions, newest first; with ``search``, only
    those whose title or body contains it, in any case."""
    require_interactions(actor)
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise Invalid(f"Limit must be between 1 and {PAGE_SIZE_MAX}.", "limit")

    if record.record_type is RecordType.PROJECT:
        raise Invalid(
            "Projects have no interactions; open the project's plan instead.", "record"
        )

    require_record_type(actor, record.record_type)
    since = show_for_last.since(utcnow())
    postgresql = session.get_bind().dialect.name == "postgresql"
    search = search.strip()
    if len(search) > SEARCH_MAX:
        raise Invalid(f"Search for at most {SEARCH_MAX} characters.", "search")

    query = _page_query(
        record.record_type,
        _Shape(since is not None, before is not None, bool(search)),
        postgresql,
    )
    params: dict[str, Any] = {
        "firm_id": actor.firm_id,
        "record_id": record.record_id,
        "limit": limit + 1,
    }
    if since is not None:
        params["since"] = since
    if before is not None:
        params["before_at"] = before.occurred_at
        params["before_id"] = before.interaction_id
    if search:
        params["pattern"] = f"%{_escape_like(search)}%"

    # Core, not ORM, execution: these are plain rows, and the ORM's result
    # machinery would cost more than PostgreSQL takes to run the statement.
    page = session.connection().execute(query, params).all()
    if not page:
        # Only an empty page can mean that the record does not exist (or is
        # another firm's): a page with rows is of a record the firm has.
        require_record(session, actor, record)
        return GridPage([], None)

    rows = [
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
            participants=_grid_participants(row.participants),
            links=_grid_links(row.links),
        )
        for row in page[:limit]
    ]
    next_cursor = None
    if len(page) > limit:
        last = page[limit - 1]
        next_cursor = Cursor(last.link_occurred_at, last.id).encode()

    return GridPage(rows, next_cursor)


# The statements below are built once per shape and reused with new parameters:
# building them costs more Python time than PostgreSQL needs to run them, and
# each shape is one statement text, which PostgreSQL can keep prepared.

_RECORD_TYPE = Link.__table__.c.record_type.type
_FIRM_ID = bindparam("firm_id", type_=Integer)
_RECORD_ID = bindparam("record_id", type_=Integer)


@dataclass(frozen=True)
class _Shape:
    """Which filters a page's statement has; each shape is built once."""

    since: bool
    before: bool
    search: bool


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _newest_links(shape: _Shape) -> Select[int, datetime]:
    """The firm's link rows, newest first, from the cursor on, since ``since``,
    and of interactions that match the search."""
    query = select(Link.interaction_id, Link.occurred_at).where(
        Link.firm_id == _FIRM_ID
    )
    if shape.search:
        pattern = bindparam("pattern", type_=String)
        query = query.join(
            Interaction,
            and_(
                Interaction.id == Link.interaction_id,
                or_(
                    Interaction.title.ilike(pattern, escape="\\"),
                    Interaction.body_text.ilike(pattern, escape="\\"),
                ),
            ),
        )
    since, before = shape.since, shape.before
    if since:
        query = query.where(
            Link.occurred_at >= bindparam("since", type_=Link.occurred_at.type)
        )
    if before:
        query = query.where(
            tuple_(Link.occurred_at, Link.interaction_id)
            < tuple_(
                bindparam("before_at", type_=Link.occurred_at.type),
                bindparam("before_id", type_=Integer),
            )
        )

    return query.order_by(desc(Link.occurred_at), desc(Link.interaction_id)).limit(
        bindparam("limit", type_=Integer)
    )


def _client_members() -> Subquery:
    """The client's plans, and the contacts with a role at it or at one of them."""

    def member(record_type: RecordType) -> ColumnElement[RecordType]:
        return literal(record_type, _RECORD_TYPE).label("record_type")

    plans = select(member(RecordType.PLAN), Plan.id.label("record_id")).where(
        Plan.firm_id == _FIRM_ID, Plan.client_id == _RECORD_ID
    )
    at_client = select(member(RecordType.CONTACT), ContactRole.contact_id).where(
        ContactRole.firm_id == _FIRM_ID, ContactRole.client_id == _RECORD_ID
    )
    # A join, not an OR with the client's roles: each branch is one index range.
    at_plans = (
        select(member(RecordType.CONTACT), ContactRole.contact_id)
        .join(Plan, Plan.id == ContactRole.plan_id)
        .where(Plan.firm_id == _FIRM_ID, Plan.client_id == _RECORD_ID)
    )

    return union(plans, at_client, at_plans).subquery("member")


def _client_cut(shape: _Shape, lateral: bool) -> Select[int, datetime]:
    """The newest link rows of a client's members, each interaction once."""
    member = _client_members()
    of_member = and_(
        Link.record_type == member.c.record_type,
        Link.record_id == member.c.record_id,
    )
    if not lateral:
        return _newest_links(shape).join(member, of_member).distinct()

    # Each member's page is one short range of the link index, whatever the
    # member's history; only those rows are merged. Ordering all of the client's
    # links instead reads every one of them, and once PostgreSQL switches a
    # prepared statement to its generic plan it cannot tell a small client from
    # a big one.
    newest = _newest_links(shape).where(of_member).lateral("newest")
    merged = (
        select(newest.c.interaction_id, newest.c.occurred_at)
        .select_from(member)
        .join(newest, true())
        .subquery("merged")
    )
    return (
        select(merged.c.interaction_id, merged.c.occurred_at)
        .distinct()
        .order_by(desc(merged.c.occurred_at), desc(merged.c.interaction_id))
        .limit(bindparam("limit", type_=Integer))
    )


@functools.cache
def _page_query(
    record_type: RecordType, shape: _Shape, lateral: bool
) -> Select[*tuple[Any, ...]]:
    """A page of link rows joined to their interactions, newest first.

    ``lateral`` cuts a client's page member by member (PostgreSQL); without it
    the client's links are ordered as a whole, which suits a small database.
    """
    if record_type is RecordType.CLIENT:
        cut = _client_cut(shape, lateral).subquery("page")
    else:
        # Links are only ever made to the firm's own records, and filtered by
        # firm here: another firm's record id finds an empty page, as a missing
        # one does.
        cut = (
            _newest_links(shape)
            .where(Link.record_type == record_type, Link.record_id == _RECORD_ID)
            .subquery("page")
        )

    return (
        select(
            cut.c.occurred_at.label("link_occurred_at"),
            Interaction.id,
            Interaction.occurred_at,
            Interaction.title,
            Interaction.source,
            InteractionType.id.label("type_id"),
            InteractionType.display_name,
            InteractionType.base_name,
            User.name.label("created_by"),
            _participants_of(Interaction.id).label("participants"),
            _links_of(Interaction.id).label("links"),
        )
        .select_from(cut)
        .join(
            Interaction,
            and_(
                Interaction.id == cut.c.interaction_id, Interaction.firm_id == _FIRM_ID
            ),
        )
        .join(InteractionType, InteractionType.id == Interaction.type_id)
        .outerjoin(User, User.id == Interaction.created_by_id)
        .order_by(desc(cut.c.occurred_at), desc(cut.c.interaction_id))
    )


class _json_rows(FunctionElement[Any]):
    """An aggregate: one JSON array per row, in a JSON array (NULL for no rows)."""

    type = JSON()
    inherit_cache = True


@compiles(_json_rows, "postgresql")
def _json_rows_postgresql(element: _json_rows, compiler: Any, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(_json_rows)
def _json_rows_sqlite(element: _json_rows, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


# Participants and links come with their interactions, in the same statement: each
# is a short range of an index by interaction, and one round trip instead of three
# is most of what a page costs beyond PostgreSQL's own work. Rows lead with their
# id, so that sorting them restores the order they were added in.


def _participants_of(interaction_id: SQLCoreOperations[int]) -> ColumnElement[Any]:
    return (
        select(
            _json_rows(
                Participant.id,
                Participant.role,
                Participant.display_name,
                Participant.contact_id,
                Participant.address,
            )
        )
        .where(Participant.interaction_id == interaction_id)
        .scalar_subquery()
    )


def _links_of(interaction_id: SQLCoreOperations[int]) -> ColumnElement[Any]:
    """Links with their records' names: one subquery per link, by primary key."""
    link = Link.__table__.alias("shown_link")
    name = case(
        {
            record_type: select(kind.name)
            .where(kind.id == link.c.record_id, kind.firm_id == _FIRM_ID)
            .scalar_subquery()
            for record_type, kind in KINDS.items()
            if record_type in LINKABLE
        },
        value=link.c.record_type,
    )
    return (
        select(
            _json_rows(
                link.c.id,
                link.c.record_type,
                link.c.record_id,
                func.coalesce(name, "", type_=String),
            )
        )
        .where(link.c.interaction_id == interaction_id)
        .scalar_subquery()
    )


def _grid_participants(rows: list[list[Any]] | None) -> list[GridParticipant]:
    return [GridParticipant(*row[1:]) for row in sorted(rows or [])]


def _grid_links(rows: list[list[Any]] | None) -> list[GridLink]:
    return [
        GridLink(RecordType(record_type), record_id, name)
        for _, record_type, record_id, name in sorted(rows or [])
    ]


@functools.cache
def _links_query() -> Select[list[list[Any]] | None]:
    return select(_links_of(bindparam("interaction_id", type_=Integer)))


def links_of(session: Session, firm_id: int, interaction_id: int) -> list[GridLink]:
    """An interaction's links with the names of the linked records."""
    rows = (
        session.connection()
        .execute(_links_query(), {"firm_id": firm_id, "interaction_id": interaction_id})
        .scalar()
    )
    return _grid_links(rows)


def get_interaction(session: Session, actor: Actor, interaction_id: int) -> Interaction:
    require_interactions(actor)
    return get_owned(session, Interaction, interaction_id, actor)


def conversation_of(
    session: Session, actor: Actor, interaction: Interaction, limit: int = 50
) -> list[Interaction]:
    """The other logged interactions of the interaction's conversation, oldest first."""
    if not interaction.conversation_id:
        return []

    return list(
        session.scalars(
            select(Interaction)
            .where(
                Interaction.firm_id == actor.firm_id,
                Interaction.conversation_id == interaction.conversation_id,
                Interaction.id != interaction.id,
            )
            .order_by(Interaction.occurred_at)
            .limit(limit)
        )
    )
