"""How fast is a record's Interactions tab at a realistic scale, on PostgreSQL?

``python -m bench.grid [--database-url URL] [--refill] [--rounds N] [--calls N]``

Fills a database of its own (1,000,000 interactions over 200 firms; one firm with
100,000, one client in it with 10,000 across 5 plans and 15 contacts), or reuses
the one a previous run filled the same way, then times the first grid page of a
client, a plan and a contact through the service layer, as a request runs it: a
new ORM session per call, psycopg's default prepare threshold. Each case is timed
at the first call (nothing prepared: the statements are planned for their
parameters) and from the hundredth call on (prepared statements, which
PostgreSQL may have switched to generic plans). It also EXPLAINs every statement
of a call, with the call's own parameters and as a forced generic plan, and flags
any sequential scan of the interaction and link tables.

Prints one JSON object per case on stdout; progress and a summary go to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from bench import plots
from bench.common import log, percentile, recreate_database
from interactions.db import make_engine, make_session_factory
from interactions.migrate import upgrade
from interactions.models import BaseName, RecordType, Right, Tier, User
from interactions.services.access import Actor
from interactions.services.firms import add_user, register_firm
from interactions.services.grid import ShowForLast, record_grid
from interactions.services.records import RecordRef

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/interactions_bench"

FIRMS = 200
INTERACTIONS = 1_000_000
BIG_FIRM_INTERACTIONS = 100_000
BIG_CLIENT_INTERACTIONS = 10_000
BIG_CLIENT_PLANS = 5
BIG_CLIENT_CONTACTS = 15
#: Of the big client's contacts, how many have their role at the client itself; the
#: others have it at one of its plans.
BIG_CLIENT_CONTACTS_AT_CLIENT = 5
USERS_PER_FIRM = 5
YEARS = 3
#: Targets from the issue, in ms: the roll-up reads up to 20 index ranges.
TARGET_MS = {RecordType.CLIENT: 10.0, RecordType.PLAN: 5.0, RecordType.CONTACT: 5.0}
#: New connections whose first call is timed, per case.
NEW_CONNECTIONS = 20
#: The tables a grid must never read from end to end.
GRID_TABLES = frozenset({"interaction", "interaction_link"})

#: The firm's standard types, in the order the fill's type positions refer to.
TYPE_ORDER = [
    BaseName.EMAIL,
    BaseName.PHONE_CALL,
    BaseName.APPOINTMENT,
    BaseName.MEETING,
    BaseName.BLAST_EMAIL,
    BaseName.SECURE_FILE_EXCHANGE,
]


# -- the database ----------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where the interesting records of a filled database are; kept in bench_meta."""

    firm_id: int
    user_id: int
    client_id: int
    plan_id: int
    contact_id: int
    interactions: int
    links: int
    participants: int
    fill_seconds: float
    fingerprint: str = ""
    record_counts: dict[str, int] = field(default_factory=dict)


def fingerprint(seed: int) -> str:
    """What the fill depends on: a database filled otherwise is filled again."""
    recipe = json.dumps(
        [
            FIRMS,
            INTERACTIONS,
            BIG_FIRM_INTERACTIONS,
            BIG_CLIENT_INTERACTIONS,
            BIG_CLIENT_PLANS,
            BIG_CLIENT_CONTACTS,
            BIG_CLIENT_CONTACTS_AT_CLIENT,
            USERS_PER_FIRM,
            YEARS,
            FILL_SQL,
            seed,
        ]
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def existing_layout(engine: Engine, seed: int) -> Layout | None:
    """The layout of a database this fill completed, or None if it must be filled."""
    try:
        with engine.connect() as connection:
            stored = connection.scalar(
                text("SELECT value FROM bench_meta WHERE key = 'layout'")
            )
            if stored is None:
                return None

            layout = Layout(**json.loads(stored))
            # The marker is written last; the count guards against a later edit.
            count = connection.scalar(text("SELECT count(*) FROM interaction"))
    except Exception:  # no database, no table: fill it
        return None

    matches = layout.fingerprint == fingerprint(seed)
    return layout if matches and count == layout.interactions == INTERACTIONS else None


@dataclass(frozen=True)
class FirmInfo:
    firm_id: int
    user_ids: list[int]
    type_ids: list[int]


@dataclass(frozen=True)
class Segment:
    """A block of a firm's interactions and the records they link to.

    Ids are allocated in contiguous ranges, so that SQL can pick a segment's plan or
    contact by arithmetic instead of joining to find one.
    """

    seg_id: int
    firm: FirmInfo
    interactions: int
    is_big_client: bool
    client0: int
    clients: int
    plan0: int
    plans: int
    contact0: int
    contacts: int


def fill(engine: Engine, seed: int) -> Layout:
    started = time.perf_counter()
    rng = random.Random(seed)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        firms = _register_firms(session)
    log(f"  {len(firms)} firms and their users: {time.perf_counter() - started:.1f}s")

    segments = _segments(firms, rng)
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert isinstance(connection, psycopg.Connection)
        connection.autocommit = True
        _fill_sql(connection, segments, seed)
        connection.autocommit = False
    finally:
        raw.close()
    # The fill's session settings stay on its connection: start the pool afresh.
    engine.dispose()

    big = next(s for s in segments if s.is_big_client)
    layout = _measure_layout(engine, big, time.perf_counter() - started, seed)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        )
        connection.execute(
            text("INSERT INTO bench_meta VALUES ('layout', :value)"),
            {"value": json.dumps(asdict(layout))},
        )

    return layout


def _register_firms(session: Session) -> list[FirmInfo]:
    """Firms and users through the same services onboarding uses."""
    tiers = [Tier.TEAM, Tier.PREMIUM, Tier.BUSINESS]
    firms: list[FirmInfo] = []
    for index in range(FIRMS):
        name = f"Bench Firm {index + 1:03d}"
        firm = register_firm(
            session,
            name,
            Tier.BUSINESS if index == 0 else tiers[index % len(tiers)],
            has_salespitch=index % 4 == 0,
            tenant_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.bench")),
        )
        users = []
        for number in range(USERS_PER_FIRM):
            email = f"user{number}@firm{index + 1:03d}.bench.test"
            rights = list(Right) if number == 0 else [Right.ADD_EDIT_INTERACTION]
            user = add_user(
                session,
                firm,
                str(uuid.uuid5(uuid.NAMESPACE_DNS, email)),
                email,
                f"Staff {index + 1:03d}-{number}",
                rights,
            )
            users.append(user.id)
        types: dict[str, int] = dict(
            session.execute(
                text(
                    "SELECT base_name, id FROM interaction_type WHERE firm_id = :firm"
                ),
                {"firm": firm.id},
            ).all()
        )
        firms.append(FirmInfo(firm.id, users, [types[b.value] for b in TYPE_ORDER]))

    return firms


def _segments(firms: list[FirmInfo], rng: random.Random) -> list[Segment]:
    """The big client, the rest of the big firm, then each other firm.

    Firm sizes are log-normal, as customers are: a few large firms, many small.
    Generic segments have about 40 interactions per plan and 25 per contact.
    """
    rest = INTERACTIONS - BIG_FIRM_INTERACTIONS
    weights = [rng.lognormvariate(0, 0.8) for _ in firms[1:]]
    sizes = [int(rest * w / sum(weights)) for w in weights]
    sizes[0] += rest - sum(sizes)

    big_firm = firms[0]
    blocks: list[tuple[FirmInfo, int, bool]] = [
        (big_firm, BIG_CLIENT_INTERACTIONS, True),
        (big_firm, BIG_FIRM_INTERACTIONS - BIG_CLIENT_INTERACTIONS, False),
    ]
    blocks += [(firm, size, False) for firm, size in zip(firms[1:], sizes, strict=True)]

    segments: list[Segment] = []
    client0 = plan0 = contact0 = 1
    for seg_id, (firm, count, is_big) in enumerate(blocks, start=1):
        if is_big:
            plans, contacts = BIG_CLIENT_PLANS, BIG_CLIENT_CONTACTS
            clients = 1
        else:
            plans = max(2, count // 40)
            contacts = max(4, count // 25)
            clients = math.ceil(plans / 2)
        segments.append(
            Segment(
                seg_id,
                firm,
                count,
                is_big,
                client0,
                clients,
                plan0,
                plans,
                contact0,
                contacts,
            )
        )
        client0 += clients
        plan0 += plans
        contact0 += contacts

    return segments


#: The fill, in SQL so that no row crosses the wire. Random draws are stored before
#: they are used, because a volatile function referenced twice may be evaluated twice.
FILL_SQL = [
    (
        "clients",
        """
        INSERT INTO client (id, firm_id, name)
        SELECT s.client0 + g, s.firm_id,
               CASE WHEN s.is_big THEN 'Big Client' ELSE 'Client ' || s.client0 + g END
        FROM bench_segment s, generate_series(0, s.clients - 1) g
        """,
    ),
    (
        "plans",
        """
        INSERT INTO plan (id, firm_id, client_id, name)
        SELECT s.plan0 + g, s.firm_id,
               s.client0 + CASE WHEN s.is_big THEN 0 ELSE g / 2 END,
               (ARRAY['401(k) Plan', 'Cash Balance Plan', 'Profit Sharing Plan',
                      '403(b) Plan', 'Defined Benefit Plan'])[1 + g % 5]
               || ' ' || s.plan0 + g
        FROM bench_segment s, generate_series(0, s.plans - 1) g
        """,
    ),
    (
        "contacts",
        """
        INSERT INTO contact (id, firm_id, first_name, last_name)
        SELECT s.contact0 + g, s.firm_id,
               (ARRAY['Dana', 'Alex', 'Sam', 'Jordan', 'Priya', 'Chen', 'Maria',
                      'Omar'])[1 + g % 8],
               'Contact' || s.contact0 + g
        FROM bench_segment s, generate_series(0, s.contacts - 1) g
        """,
    ),
    (
        "contact emails",
        """
        INSERT INTO contact_email (firm_id, contact_id, address)
        SELECT firm_id, id, 'contact' || id || '@client.example.test' FROM contact
        """,
    ),
    (
        # The big client's first contacts are at the client, the others at its
        # plans; elsewhere every other contact is at a client, the rest at a plan.
        "contact roles",
        """
        INSERT INTO contact_role (firm_id, contact_id, client_id, plan_id, role)
        SELECT firm_id, contact_id,
               CASE WHEN at_client THEN client_id END,
               CASE WHEN NOT at_client THEN plan_id END,
               CASE WHEN at_client THEN 'Trustee' ELSE 'Payroll' END
        FROM (
            SELECT s.firm_id, s.contact0 + g AS contact_id,
                   CASE WHEN s.is_big THEN g < :at_client ELSE g % 2 = 0 END
                       AS at_client,
                   s.client0 + CASE WHEN s.is_big THEN 0 ELSE (g / 2) % s.clients END
                       AS client_id,
                   s.plan0 + CASE WHEN s.is_big THEN g % s.plans
                                  ELSE (g / 2) % s.plans END AS plan_id
            FROM bench_segment s, generate_series(0, s.contacts - 1) g
        ) r
        """,
    ),
    (
        # Not linked to in the benchmark, but present as in production, so that
        # the planner's choices for the link names are the ones it would make.
        "projects",
        """
        INSERT INTO project (firm_id, plan_id, name)
        SELECT firm_id, id, 'Annual administration ' || id FROM plan
        """,
    ),
    (
        "prospects",
        """
        INSERT INTO prospect (firm_id, name)
        SELECT f.id, 'Prospect ' || f.id || '-' || g
        FROM firm f, generate_series(1, 20) g
        """,
    ),
    (
        "opportunities",
        """
        INSERT INTO opportunity (firm_id, name, prospect_id)
        SELECT firm_id, 'Opportunity for ' || name, id FROM prospect
        """,
    ),
    (
        "proposals",
        """
        INSERT INTO proposal (firm_id, name, opportunity_id)
        SELECT firm_id, 'Proposal: ' || name, id FROM opportunity
        """,
    ),
    (
        # Activity grows over time: about a quarter of it is in the last 6 months.
        "random draws",
        """
        CREATE UNLOGGED TABLE bench_draw AS
        SELECT s.seg_id, g,
               date_trunc('second', now() - make_interval(days => :days)
                          * power(random(), 1.25)) AS occurred_at,
               random() AS r_kind, random() AS r_plan, random() AS r_contact1,
               random() AS r_contact2, random() AS r_type, random() AS r_user
        FROM bench_segment s, generate_series(1, s.interactions) g
        """,
    ),
    (
        # Ids in time order, interleaving firms, as captures arrive: a record's
        # newest rows are spread over the heap, not packed together.
        # Links: 30% one (a plan, or a contact), 40% a plan and a contact, 30% a
        # plan and two contacts; which plan or contact is skewed towards the first.
        "interaction draft",
        """
        CREATE UNLOGGED TABLE bench_gen AS
        SELECT row_number() OVER (ORDER BY d.occurred_at, d.seg_id, d.g)::int AS id,
               s.firm_id, d.occurred_at, k.kind, t.type_pos,
               s.user_ids[1 + floor(d.r_user * cardinality(s.user_ids))::int]
                   AS user_id,
               CASE WHEN k.kind <> 2
                    THEN s.plan0 + floor(s.plans * d.r_plan ^ 2)::int END AS plan_id,
               CASE WHEN k.kind <> 1 THEN s.contact0 + k.first END AS contact1_id,
               CASE WHEN k.kind = 4
                    THEN s.contact0 + (k.first + 1
                         + floor((s.contacts - 1) * d.r_contact2)::int) % s.contacts
               END AS contact2_id,
               s.contact0 + floor(s.contacts * d.r_contact2)::int AS any_contact_id,
               s.type_ids[t.type_pos] AS type_id
        FROM bench_draw d
        JOIN bench_segment s USING (seg_id)
        CROSS JOIN LATERAL (
            SELECT CASE WHEN d.r_kind < 0.18 THEN 1 WHEN d.r_kind < 0.30 THEN 2
                        WHEN d.r_kind < 0.70 THEN 3 ELSE 4 END AS kind,
                   floor(s.contacts * d.r_contact1 ^ 2)::int AS first
        ) k
        CROSS JOIN LATERAL (
            SELECT CASE WHEN d.r_type < 0.60 THEN 1 WHEN d.r_type < 0.75 THEN 2
                        WHEN d.r_type < 0.83 THEN 3 WHEN d.r_type < 0.91 THEN 4
                        WHEN d.r_type < 0.97 THEN 5 ELSE 6 END AS type_pos
        ) t
        """,
    ),
    (
        "interactions",
        """
        INSERT INTO interaction (
            id, firm_id, type_id, title, occurred_at, duration_minutes, body_text,
            body_html, source, internet_message_id, conversation_id, attachments,
            created_by_id, created_at, updated_by_id, updated_at)
        SELECT id, firm_id, type_id,
               (ARRAY['Quarterly review', 'Contribution question', 'Census request',
                      'Plan document update', 'Form 5500 filing', 'Loan request',
                      'Distribution paperwork', 'Compliance testing'])[1 + id % 8]
               || ' #' || id,
               occurred_at,
               CASE WHEN type_pos IN (2, 3, 4) THEN 15 * (1 + id % 4) END,
               'Following up on the ' || id || ' request: please find the '
               || 'details below and let us know if anything is missing.',
               '<p>Following up on the ' || id || ' request: please find the '
               || 'details below and let us know if anything is missing.</p>',
               source,
               CASE WHEN source = 'outlook_addin'
                    THEN '<' || id || '.bench@mail.example.test>' END,
               CASE WHEN source = 'outlook_addin' THEN 'conv-' || id / 3 END,
               '[]', user_id, occurred_at, user_id, occurred_at
        FROM (
            SELECT g.*,
                   CASE type_pos
                       WHEN 1 THEN CASE WHEN id % 5 = 0 THEN 'manual'
                                        ELSE 'outlook_addin' END
                       WHEN 5 THEN 'blast_email'
                       WHEN 6 THEN 'secure_file_exchange'
                       ELSE 'manual' END AS source
            FROM bench_gen g
        ) g
        ORDER BY id
        """,
    ),
    (
        "links",
        """
        INSERT INTO interaction_link (
            firm_id, interaction_id, record_type, record_id, occurred_at)
        SELECT firm_id, id, record_type, record_id, occurred_at FROM (
            SELECT firm_id, id, 1 AS ord, 'plan' AS record_type, plan_id AS record_id,
                   occurred_at
            FROM bench_gen WHERE plan_id IS NOT NULL
            UNION ALL
            SELECT firm_id, id, 2, 'contact', contact1_id, occurred_at
            FROM bench_gen WHERE contact1_id IS NOT NULL
            UNION ALL
            SELECT firm_id, id, 3, 'contact', contact2_id, occurred_at
            FROM bench_gen WHERE contact2_id IS NOT NULL
        ) l
        ORDER BY id, ord
        """,
    ),
    (
        # Two per interaction: the employee who sent or logged it, and a contact.
        "participants",
        """
        INSERT INTO participant (
            firm_id, interaction_id, role, contact_id, user_id, address,
            display_name)
        SELECT firm_id, id, role, contact_id, user_id, address, display_name FROM (
            SELECT g.firm_id, g.id, 1 AS ord,
                   (ARRAY['From', 'Caller', 'Organizer', 'Organizer', 'From',
                          'From'])[g.type_pos] AS role,
                   NULL::int AS contact_id, g.user_id, u.email AS address,
                   u.name AS display_name
            FROM bench_gen g JOIN "user" u ON u.id = g.user_id
            UNION ALL
            SELECT g.firm_id, g.id, 2,
                   (ARRAY['To', 'Recipient', 'Attendee', 'Attendee', 'To',
                          'To'])[g.type_pos],
                   c.id, NULL, 'contact' || c.id || '@client.example.test',
                   c.first_name || ' ' || c.last_name
            FROM bench_gen g
            JOIN contact c ON c.id = coalesce(g.contact1_id, g.any_contact_id)
        ) p
        ORDER BY id, ord
        """,
    ),
]


def _fill_sql(
    connection: psycopg.Connection[Any], segments: list[Segment], seed: int
) -> None:
    with connection.cursor() as cursor:
        # The rows are made consistent by construction, so checking each foreign key
        # row by row only slows the load; this needs a superuser, which the local
        # server's postgres user is.
        try:
            cursor.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            log("  (not a superuser: foreign keys are checked row by row)")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("SET work_mem = '64MB'")
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        cursor.execute(
            """
            CREATE UNLOGGED TABLE bench_segment (
                seg_id int PRIMARY KEY, firm_id int NOT NULL,
                interactions int NOT NULL, is_big boolean NOT NULL,
                client0 int NOT NULL, clients int NOT NULL,
                plan0 int NOT NULL, plans int NOT NULL,
                contact0 int NOT NULL, contacts int NOT NULL,
                type_ids int[] NOT NULL, user_ids int[] NOT NULL)
            """
        )
        with cursor.copy(
            "COPY bench_segment (seg_id, firm_id, interactions, is_big, client0, "
            "clients, plan0, plans, contact0, contacts, type_ids, user_ids) "
            "FROM STDIN"
        ) as copy:
            for s in segments:
                copy.write_row(
                    (
                        s.seg_id,
                        s.firm.firm_id,
                        s.interactions,
                        s.is_big_client,
                        s.client0,
                        s.clients,
                        s.plan0,
                        s.plans,
                        s.contact0,
                        s.contacts,
                        s.firm.type_ids,
                        s.firm.user_ids,
                    )
                )

        values = {
            "at_client": BIG_CLIENT_CONTACTS_AT_CLIENT,
            "days": int(365.25 * YEARS),
        }
        for label, statement in FILL_SQL:
            started = time.perf_counter()
            cursor.execute(_named(statement, values))
            seconds = time.perf_counter() - started
            log(f"  {label}: {cursor.rowcount:,} rows, {seconds:.1f}s")

        for table in ("client", "plan", "contact", "interaction"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("DROP TABLE bench_draw, bench_gen, bench_segment")
        cursor.execute("RESET session_replication_role")

        # VACUUM, not only ANALYZE: as autovacuum would have by now for most of
        # the data, it sets the visibility map, which index-only scans of the link
        # index need, and the hint bits, which the first reads would otherwise
        # write. (It can do neither for rows whose commit is not yet flushed, which
        # is why the fill keeps synchronous_commit on.)
        started = time.perf_counter()
        cursor.execute("VACUUM (ANALYZE)")
        cursor.execute(
            "SELECT relname, relallvisible::float / greatest(relpages, 1) "
            "FROM pg_class WHERE relname IN ('interaction', 'interaction_link') "
            "ORDER BY relname"
        )
        visible = ", ".join(f"{name} {share:.0%}" for name, share in cursor)
        seconds = time.perf_counter() - started
        log(f"  vacuum analyze: {seconds:.1f}s; all-visible pages: {visible}")


def _named(statement: str, values: dict[str, int]) -> str:
    """The statement with its :names replaced by integer literals."""
    return re.sub(r"(?<!:):(\w+)", lambda m: str(int(values[m.group(1)])), statement)


def _measure_layout(
    engine: Engine, big: Segment, fill_seconds: float, seed: int
) -> Layout:
    """Which of the big client's plans and contacts have the most interactions."""
    with engine.connect() as connection:

        def busiest(record_type: str, first: int, count: int) -> tuple[int, int]:
            row = connection.execute(
                text(
                    "SELECT record_id, count(*) FROM interaction_link "
                    "WHERE firm_id = :firm AND record_type = :type "
                    "AND record_id BETWEEN :first AND :last "
                    "GROUP BY record_id ORDER BY count(*) DESC, record_id LIMIT 1"
                ),
                {
                    "firm": big.firm.firm_id,
                    "type": record_type,
                    "first": first,
                    "last": first + count - 1,
                },
            ).one()
            return int(row[0]), int(row[1])

        plan_id, plan_count = busiest("plan", big.plan0, big.plans)
        contact_id, contact_count = busiest("contact", big.contact0, big.contacts)
        counts = {
            name: int(connection.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
            for name in ("interaction", "interaction_link", "participant")
        }
        client_count = connection.scalar(
            text(
                "SELECT count(DISTINCT interaction_id) FROM interaction_link "
                "WHERE firm_id = :firm AND ((record_type = 'plan' AND record_id "
                "BETWEEN :p0 AND :p1) OR (record_type = 'contact' AND record_id "
                "BETWEEN :c0 AND :c1))"
            ),
            {
                "firm": big.firm.firm_id,
                "p0": big.plan0,
                "p1": big.plan0 + big.plans - 1,
                "c0": big.contact0,
                "c1": big.contact0 + big.contacts - 1,
            },
        )

    return Layout(
        firm_id=big.firm.firm_id,
        user_id=big.firm.user_ids[0],
        client_id=big.client0,
        plan_id=plan_id,
        contact_id=contact_id,
        interactions=counts["interaction"],
        links=counts["interaction_link"],
        participants=counts["participant"],
        fill_seconds=round(fill_seconds, 1),
        fingerprint=fingerprint(seed),
        record_counts={
            "big_client": int(client_count or 0),
            "big_plan": plan_count,
            "big_contact": contact_count,
        },
    )


# -- measuring -------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    record: RecordRef
    show_for_last: ShowForLast

    @property
    def target_ms(self) -> float:
        return TARGET_MS[self.record.record_type]


def cases(layout: Layout) -> list[Case]:
    records = [
        ("client roll-up", RecordRef(RecordType.CLIENT, layout.client_id)),
        ("plan", RecordRef(RecordType.PLAN, layout.plan_id)),
        ("contact", RecordRef(RecordType.CONTACT, layout.contact_id)),
    ]
    periods = [ShowForLast.SIX_MONTHS, ShowForLast.ALL]
    return [
        Case(f"{label}, {period.value}", record, period)
        for label, record in records
        for period in periods
    ]


def one_call(
    factory: sessionmaker[Session], actor: Actor, case: Case, commit: bool = False
) -> float:
    """Milliseconds for one first page, session opening and closing included.

    A GET request closes its session, which rolls back, and psycopg forgets its
    prepared statements, and the counts that lead to them, at every rollback: each
    such call is a first execution. ``commit`` ends the session as a POST does,
    which keeps them, so that repeated calls reach prepared statements and
    PostgreSQL's generic plans.
    """
    started = time.perf_counter()
    with factory() as session:
        page = record_grid(session, actor, case.record, case.show_for_last, limit=50)
        if commit:
            session.commit()
    elapsed = (time.perf_counter() - started) * 1000
    assert page.rows, f"{case.name}: an empty page measures nothing"
    return elapsed


def summary(durations: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(durations), 3),
        "p95_ms": round(percentile(durations, 0.95), 3),
        "calls": len(durations),
    }


def over_rounds(rounds: list[list[float]]) -> dict[str, Any]:
    """Median and p95 of a regime timed in several rounds.

    The machine is shared: another tenant's burst of work slows whichever round
    it falls in. The median of the rounds' figures is what the grid costs when
    the burst is elsewhere; the pooled p95 and the worst round's show the bursts.
    """
    pooled = [duration for durations in rounds for duration in durations]
    p95s = [percentile(durations, 0.95) for durations in rounds]
    return {
        "median_ms": round(statistics.median(statistics.median(d) for d in rounds), 3),
        "p95_ms": round(statistics.median(p95s), 3),
        "p95_pooled_ms": round(percentile(pooled, 0.95), 3),
        "p95_worst_round_ms": round(max(p95s), 3),
        "calls": len(pooled),
        "rounds": len(rounds),
    }


def time_first_calls(
    engine: Engine, actor: Actor, case: Case, calls: int
) -> list[float]:
    """Calls that each execute the case's statements for the first time.

    Every call runs in a new session on the pool's one connection, after the
    previous session rolled back: nothing is prepared, and PostgreSQL plans each
    statement for its parameters.
    """
    factory = make_session_factory(engine)
    one_call(factory, actor, case)
    return [one_call(factory, actor, case) for _ in range(calls)]


def time_hundredth_calls(
    engine: Engine, actor: Actor, case: Case, calls: int
) -> tuple[list[float], list[dict[str, Any]]]:
    """Calls from the hundredth on of the same statements on one connection.

    Sessions commit, so the statements stay prepared: psycopg prepares a statement
    at its sixth execution and PostgreSQL may switch it to a generic plan five
    executions later. Reports how many executions of each used a generic plan.
    """
    factory = make_session_factory(engine)
    for _ in range(99):
        one_call(factory, actor, case, commit=True)
    durations = [one_call(factory, actor, case, commit=True) for _ in range(calls)]
    with engine.connect() as connection:
        prepared = [
            {"sql": _label(statement), "generic_plans": generic, "custom_plans": custom}
            for statement, generic, custom in connection.execute(
                text(
                    "SELECT statement, generic_plans, custom_plans "
                    "FROM pg_prepared_statements ORDER BY prepare_time"
                )
            )
        ]

    return durations, prepared


def time_new_connections(
    engine: Engine, actor: Actor, case: Case, connections: int
) -> list[float]:
    """The first call on each of several new connections, opened outside timing.

    A new server process also loads its catalog caches on its first statements:
    a cost paid once per pooled connection, which this shows apart.
    """
    factory = make_session_factory(engine)
    durations = []
    for _ in range(connections):
        engine.dispose()
        with engine.connect():
            pass
        durations.append(one_call(factory, actor, case))
    engine.dispose()

    return durations


@contextmanager
def statements_of(engine: Engine) -> Iterator[list[tuple[str, Any, float]]]:
    """Every statement the engine sends in the block, its parameters and its ms."""
    seen: list[tuple[str, Any, float]] = []
    started: list[float] = []

    def before(*args: Any) -> None:
        started.append(time.perf_counter())

    def after(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        elapsed = (time.perf_counter() - started.pop()) * 1000
        seen.append((statement, parameters, elapsed))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _label(statement: str) -> str:
    """A short name for a statement: its first two columns."""
    found = re.match(
        r"\s*SELECT\s+(?:DISTINCT\s+)?([^,\s]+)(?:\s+AS\s+\w+)?(?:,\s*([^,\s]+))?",
        statement,
    )
    return ", ".join(c for c in found.groups() if c) if found else statement[:40]


def profile_case(
    engine: Engine, actor: Actor, case: Case, calls: int
) -> tuple[list[dict[str, Any]], float]:
    """Median ms of each statement of a call, as the client waits for it (from
    before the cursor executes to after it has the rows), and of the whole call.

    Measured in a pass of its own, since the listeners add a little to each call.
    """
    factory = make_session_factory(engine)
    per_call: list[list[tuple[str, float]]] = []
    totals: list[float] = []
    for _ in range(calls):
        with statements_of(engine) as seen:
            totals.append(one_call(factory, actor, case))
        per_call.append([(_label(s), ms) for s, _, ms in seen])

    last = per_call[-1]
    statements = [
        {
            "sql": label,
            "client_ms": round(
                statistics.median(call[i][1] for call in per_call[-50:]), 3
            ),
        }
        for i, (label, _) in enumerate(last)
    ]
    return statements, statistics.median(totals[-50:])


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def seq_scanned(explained: Any) -> set[str]:
    """The relations an EXPLAIN (FORMAT JSON) document reads with a Seq Scan."""
    return {
        node.get("Relation Name", "?")
        for node in _plan_nodes(explained[0]["Plan"])
        if node.get("Node Type") == "Seq Scan"
    }


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def _numbered(statement: str) -> tuple[str, list[str]]:
    """A pyformat statement with $n placeholders, and the names in $n order."""
    order: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _PLACEHOLDER.sub(replace, statement), order


def explain_case(
    engine: Engine, actor: Actor, case: Case
) -> tuple[set[str], list[dict[str, Any]], dict[str, str]]:
    """What PostgreSQL makes of each statement of one call.

    Returns the relations any plan reads with a Seq Scan, custom (the call's own
    parameters) or generic (as a prepared statement may end up using); the server's
    planning and execution ms of each statement under both; and the page query's
    plan shapes.
    """
    factory = make_session_factory(engine)
    with statements_of(engine) as seen:
        one_call(factory, actor, case)

    scanned: set[str] = set()
    server: list[dict[str, Any]] = []
    shapes: dict[str, str] = {}
    with engine.connect() as connection:
        for statement, parameters, _ in seen:
            custom = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + statement, parameters
            ).scalar_one()
            scanned |= {f"{r} (custom)" for r in seq_scanned(custom)}
            planning, execution = _analyzed(connection, statement, parameters)

            numbered, names = _numbered(statement)
            connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            connection.exec_driver_sql(f"PREPARE bench_stmt AS {numbered}")
            # EXECUTE's arguments cannot be bound parameters: quote them inline.
            driver = connection.connection.driver_connection
            arguments = ", ".join(
                psycopg.sql.Literal(parameters[name]).as_string(driver)
                for name in names
            )
            execute = (
                f"EXECUTE bench_stmt({arguments})" if names else "EXECUTE bench_stmt"
            )
            generic = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + execute
            ).scalar_one()
            scanned |= {f"{r} (generic)" for r in seq_scanned(generic)}
            _, generic_execution = _analyzed(connection, execute, None)
            connection.exec_driver_sql("DEALLOCATE bench_stmt")
            connection.exec_driver_sql("RESET plan_cache_mode")

            server.append(
                {
                    "planning_ms": planning,
                    "execution_ms": execution,
                    "generic_execution_ms": generic_execution,
                }
            )
            if "interaction_link" in statement and "LIMIT" in statement:
                shapes = {"custom": _shape(custom), "generic": _shape(generic)}
        connection.rollback()

    return scanned, server, shapes


def _analyzed(
    connection: Connection, statement: str, parameters: Any
) -> tuple[float, float]:
    """Median planning and execution ms of five EXPLAIN ANALYZE runs.

    TIMING OFF: timing each node of a 20-member roll-up would double its cost.
    """
    runs = [
        connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + statement,
            parameters or None,
        ).scalar_one()[0]
        for _ in range(5)
    ]
    return (
        round(statistics.median(run.get("Planning Time", 0.0) for run in runs), 3),
        round(statistics.median(run["Execution Time"] for run in runs), 3),
    )


def _shape(explained: Any) -> str:
    """The plan's node types, outermost first, to tell two plans apart at a glance."""
    nodes = []
    for node in _plan_nodes(explained[0]["Plan"]):
        kind = node["Node Type"]
        if "Index Name" in node:
            kind += f" {node['Index Name']}"
        nodes.append(kind)
    counted: dict[str, int] = {}
    for kind in nodes:
        counted[kind] = counted.get(kind, 0) + 1
    return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in counted.items())


# -- the command -----------------------------------------------------------------


@dataclass
class Timings:
    """A case's calls, round by round, in both regimes."""

    first: list[list[float]] = field(default_factory=list)
    hundredth: list[list[float]] = field(default_factory=list)
    prepared: list[dict[str, Any]] = field(default_factory=list)


def time_cases(
    engine: Engine, actor: Actor, all_cases: list[Case], rounds: int, calls: int
) -> dict[str, Timings]:
    """Every case in every round, so that a burst of load is shared among them."""
    timings = {case.name: Timings() for case in all_cases}
    for number in range(rounds):
        log(f"Round {number + 1} of {rounds}: {calls} first and {calls} hundredth-on")
        for case in all_cases:
            timing = timings[case.name]
            timing.first.append(time_first_calls(engine, actor, case, calls))
            durations, timing.prepared = time_hundredth_calls(
                engine, actor, case, calls
            )
            timing.hundredth.append(durations)

    return timings


def measure(
    engine: Engine, actor: Actor, case: Case, timing: Timings
) -> dict[str, Any]:
    """One case's figures, plans and per-statement costs, as its JSON object."""
    first = over_rounds(timing.first)
    hundredth = over_rounds(timing.hundredth)
    new_connections = time_new_connections(engine, actor, case, NEW_CONNECTIONS)
    scanned, server, shapes = explain_case(engine, actor, case)
    statements, profiled_ms = profile_case(engine, actor, case, 100)
    for statement, on_server in zip(statements, server, strict=True):
        statement.update(on_server)

    worse = max(first, hundredth, key=lambda regime: regime["p95_ms"])
    result = {
        "name": case.name,
        "median_ms": max(first["median_ms"], hundredth["median_ms"]),
        "p95_ms": worse["p95_ms"],
        "target_p95_ms": case.target_ms,
        "meets_target": worse["p95_ms"] < case.target_ms,
        "seq_scan": any(name.split()[0] in GRID_TABLES for name in scanned),
        "first_call": first,
        "hundredth_call": {**hundredth, "prepared": timing.prepared},
        "new_connection_first_call": summary(new_connections),
        "seq_scanned_other": sorted(
            n for n in scanned if n.split()[0] not in GRID_TABLES
        ),
        "queries_per_call": len(statements),
        "statements": statements,
        "outside_sql_ms": round(
            profiled_ms - sum(s["client_ms"] for s in statements), 3
        ),
        "page_plan": shapes,
    }
    log(
        f"{case.name}: first call median {first['median_ms']:.2f} ms, p95 "
        f"{first['p95_ms']:.2f} (pooled {first['p95_pooled_ms']:.2f}); "
        f"hundredth on median {hundredth['median_ms']:.2f}, p95 "
        f"{hundredth['p95_ms']:.2f} (pooled {hundredth['p95_pooled_ms']:.2f}); "
        f"new connection median {result['new_connection_first_call']['median_ms']:.2f}"
        f"; seq scans: {sorted(scanned) or 'none'}"
    )

    return result


def ready_database(
    engine: Engine, database_url: str, seed: int, refill: bool
) -> Layout:
    """The filled database: a previous run's if it matches this fill, else a new one."""
    layout = None if refill else existing_layout(engine, seed)
    if layout is None:
        log("Filling the benchmark database...")
        engine.dispose()
        recreate_database(database_url)
        upgrade(engine)
        layout = fill(engine, seed)
        log(f"Filled in {layout.fill_seconds:.0f}s")
    else:
        upgrade(engine)
        log(
            f"Reusing the database a previous run filled in {layout.fill_seconds:.0f}s "
            "(same fill, complete); --refill fills it again"
        )
    log(
        f"  {layout.interactions:,} interactions, {layout.links:,} links, "
        f"{layout.participants:,} participants; {layout.record_counts}"
    )

    return layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="a PostgreSQL database of the benchmark's own, made if missing",
    )
    parser.add_argument(
        "--refill",
        action="store_true",
        help="fill the database again even if a previous run filled it the same way",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--calls", type=int, default=100, help="calls per case, regime and round"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--plot", type=Path, help="draw the results to this PNG")
    args = parser.parse_args(argv)

    engine = make_engine(args.database_url)
    layout = ready_database(engine, args.database_url, args.seed, args.refill)
    with make_session_factory(engine)() as session:
        user = session.get(User, layout.user_id)
        assert user is not None
        actor = Actor.of(user)

    # Compile every statement once, so that no timed call measures SQLAlchemy's
    # statement cache warming up.
    warm = make_session_factory(engine)
    for case in cases(layout):
        one_call(warm, actor, case)

    timings = time_cases(engine, actor, cases(layout), args.rounds, args.calls)
    results = [
        measure(engine, actor, case, timings[case.name]) for case in cases(layout)
    ]
    print(json.dumps(results, indent=2))
    if args.plot:
        plots.grid(results, args.plot)
    missed = [r["name"] for r in results if not r["meets_target"]]
    scans = [r["name"] for r in results if r["seq_scan"]]
    log(
        f"{len(results) - len(missed)} of {len(results)} cases meet their target"
        + (f"; missed: {', '.join(missed)}" if missed else "")
        + (f"; seq scans in: {', '.join(scans)}" if scans else "; no seq scans")
    )
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
