"""How fast resends go out, and whether every mailbox's Graph limits held.

``python -m bench.resend [--resends 1000] [--mailboxes 100] [--workers 8]``

1,000 resends across 100 mailboxes (users of one firm, each with their own Graph
token cache from the on-behalf-of exchange) are sent by worker threads running the
worker's own ``process_resend`` against the Microsoft simulator over HTTPS, with
the Redis limiter shared by all of them (``--redis-url``) and PostgreSQL
(``--database-url``, a database of the benchmark's own, recreated on each run). A
resend told to wait (its mailbox's four requests under way, its 30 sends a minute
spent) goes back on the queue for that long, as its Celery task would.

Prints one JSON object: sends per second; each resend's time from the start to
sent (median and p95); over every mailbox, the most concurrent Graph requests and
the most sends in any 60 seconds that the simulator saw (limits 4 and 30); and
whether every resend left exactly one message in its sender's Sent Items. Progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench import plots
from bench.capture import access_token
from bench.common import (
    log,
    median_of,
    percentile,
    recreate_database,
    running_simulator,
)
from interactions.config import Settings, load_settings
from interactions.db import make_engine, make_session_factory, transaction
from interactions.limiter import (
    MAX_CONCURRENT_REQUESTS,
    MAX_SENDS_PER_MINUTE,
    RedisLimiter,
)
from interactions.microsoft.graph import RESEND_HEADER, MailGateway
from interactions.microsoft.tokens import exchange_on_behalf_of
from interactions.migrate import upgrade
from interactions.models import (
    BaseName,
    InteractionType,
    Resend,
    ResendStatus,
    Right,
    Tier,
    User,
)
from interactions.queue import RecordingQueue
from interactions.services import resends
from interactions.services.access import Actor
from interactions.services.capture_processing import RetryLater
from interactions.services.firms import add_user, register_firm
from interactions.services.interactions import (
    InteractionFields,
    ParticipantFields,
    create_interaction,
)
from interactions.services.resend_processing import process_resend
from simulator.directory import ALL_RIGHTS, Directory, DirectoryUser, Tenant
from simulator.graph import Graph
from web.devcert import LocalTLS, ensure_local_tls

DEFAULT_DATABASE = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/interactions_bench_resend"
)
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
TENANT = Tenant(
    str(uuid.uuid5(uuid.NAMESPACE_URL, "interactions-bench:resend")),
    "Bench Benefits",
    "Business",
    False,
)


def senders(mailboxes: int) -> Directory:
    """One sender per mailbox, in one firm."""
    return Directory(
        [
            DirectoryUser(
                TENANT,
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"interactions-bench:{number}")),
                f"sender{number}@bench.example",
                f"Sender {number}",
                "bench",
                ALL_RIGHTS,
            )
            for number in range(mailboxes)
        ]
    )


@dataclass(order=True)
class _Due:
    at: float
    resend_id: int = field(compare=False)


class DueQueue:
    """Resends due now or later, as the broker holds tasks with a countdown."""

    def __init__(self, resend_ids: list[int]) -> None:
        self._heap = [_Due(0.0, resend_id) for resend_id in resend_ids]
        self._open = len(resend_ids)
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """The next resend that is due, waiting for one; None once all are done."""
        while True:
            with self._lock:
                if self._open == 0:
                    return None
                if self._heap and self._heap[0].at <= time.monotonic():
                    return heapq.heappop(self._heap).resend_id
            time.sleep(0.002)

    def later(self, resend_id: int, seconds: float) -> None:
        with self._lock:
            heapq.heappush(self._heap, _Due(time.monotonic() + seconds, resend_id))

    def done(self) -> None:
        with self._lock:
            self._open -= 1


def prepare(
    sessions: sessionmaker[Session],
    settings: Settings,
    people: Directory,
    origin: str,
    tls: LocalTLS,
    count: int,
) -> list[int]:
    """The firm, its senders with their token caches, and one asked resend of an
    email each, round robin over the senders; the resends' ids."""
    with transaction(sessions) as session:
        firm = register_firm(
            session, TENANT.firm_name, Tier.BUSINESS, False, TENANT.tenant_id
        )
        users = [
            add_user(session, firm, p.object_id, p.email, p.name, [])
            for p in people.users
        ]
        user_ids = [user.id for user in users]
        email_type_id = session.scalars(
            select(InteractionType.id).where(
                InteractionType.firm_id == firm.id,
                InteractionType.base_name == BaseName.EMAIL,
            )
        ).first()
    for person, user_id in zip(people.users, user_ids, strict=True):
        token = access_token(origin, settings, tls, person)
        with transaction(sessions) as session:
            exchange_on_behalf_of(session, settings, user_id, TENANT.tenant_id, token)

    resend_ids = []
    with transaction(sessions) as session:
        actors = [
            Actor.of(user, rights=frozenset({Right.ADD_EDIT_INTERACTION}))
            for user in session.scalars(
                select(User).where(User.firm_id == firm.id).order_by(User.id)
            )
        ]
        for number in range(count):
            actor = actors[number % len(actors)]
            interaction = create_interaction(
                session,
                actor,
                InteractionFields(
                    type_id=email_type_id,
                    title=f"Census reminder {number}",
                    body_html="<p>Please send the 2026 census.</p>",
                ),
                participants=[
                    ParticipantFields(
                        role="To",
                        address=f"client{number}@northwind.example",
                        display_name=f"Client {number}",
                    )
                ],
            )
            made = resends.request_resend(
                session, actor, interaction.id, f"bench-{number}"
            )
            resend_ids.append(made.id)
    return resend_ids


def send_all(
    sessions: sessionmaker[Session],
    settings: Settings,
    limiter: RedisLimiter,
    resend_ids: list[int],
    workers: int,
) -> tuple[float, list[float]]:
    """Seconds for all, and each resend's seconds from the start to final."""
    queue = DueQueue(resend_ids)
    finished: list[float] = []

    def outbox_for(session: Session, user_id: int) -> MailGateway:
        return MailGateway.for_user(session, settings, user_id)

    started = time.monotonic()

    def work() -> None:
        while (resend_id := queue.take()) is not None:
            try:
                process_resend(sessions, resend_id, outbox_for, limiter)
            except RetryLater as later:
                queue.later(resend_id, later.delay or 1.0)
                continue
            finished.append(time.monotonic() - started)
            queue.done()

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work) for _ in range(workers)]:
            future.result()

    return time.monotonic() - started, finished


def most_in_a_minute(moments: list[datetime]) -> int:
    """The most of these moments that fall in any 60 seconds."""
    ordered = sorted(moments)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= timedelta(seconds=60):
            first += 1
        most = max(most, last - first + 1)
    return most


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resends", type=int, default=1000)
    parser.add_argument("--mailboxes", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--plot", type=Path, help="draw the results to this PNG")
    arguments = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    instance = Path(tempfile.mkdtemp(prefix="interactions-bench-resend-"))
    tls = ensure_local_tls(instance)
    people = senders(arguments.mailboxes)
    client_id = load_settings({}).client_id
    with running_simulator(tls, client_id, people) as (origin, app):
        graph: Graph = app.extensions["graph"]
        settings = load_settings(
            {
                "DATABASE_URL": arguments.database_url,
                "CELERY_BROKER_URL": arguments.redis_url,
                "INSTANCE_PATH": str(instance),
                "ENTRA_AUTHORITY_HOST": origin,
                "MICROSOFT_CA_BUNDLE": str(tls.ca_path),
            }
        )
        recreate_database(arguments.database_url)
        engine = make_engine(arguments.database_url)
        upgrade(engine)
        sessions = make_session_factory(engine, RecordingQueue())
        log(f"{arguments.mailboxes} mailboxes, {arguments.resends} resends to ask")
        resend_ids = prepare(sessions, settings, people, origin, tls, arguments.resends)
        graph.usage.clear()
        limiter = RedisLimiter(
            redis.Redis.from_url(arguments.redis_url),
            prefix=f"interactions-bench:{uuid.uuid4()}",
        )
        log(f"sending with {arguments.workers} worker threads")
        elapsed, finished = send_all(
            sessions, settings, limiter, resend_ids, arguments.workers
        )
        result = report(sessions, graph, people, arguments, elapsed, finished)
        engine.dispose()

    print(json.dumps(result, indent=2))
    if arguments.plot:
        plots.resend(result, arguments.plot)
    return 0


def report(
    sessions: sessionmaker[Session],
    graph: Graph,
    people: Directory,
    arguments: argparse.Namespace,
    elapsed: float,
    finished: list[float],
) -> dict[str, Any]:
    with transaction(sessions) as session:
        rows = session.scalars(select(Resend)).all()
        statuses = Counter(row.status.value for row in rows)
        keys = {row.key for row in rows}
    found = Counter(
        message.header(RESEND_HEADER)
        for person in people.users
        for message in graph.sent_items(person.object_id)
        if message.header(RESEND_HEADER) in keys
    )
    usage = [graph.usage.of(person.object_id) for person in people.users]
    concurrent = max(u.max_in_flight for u in usage)
    per_minute = max(most_in_a_minute(list(u.sent_at)) for u in usage)
    sent = statuses.get(ResendStatus.SENT.value, 0)
    return {
        "name": "resend",
        "resends": arguments.resends,
        "mailboxes": arguments.mailboxes,
        "workers": arguments.workers,
        "statuses": dict(statuses),
        "seconds": round(elapsed, 2),
        "sends_per_second": round(sent / elapsed, 1),
        "to_sent_median_s": round(median_of(finished), 2),
        "to_sent_p95_s": round(percentile(finished, 0.95), 2),
        "max_concurrent_requests_per_mailbox": concurrent,
        "max_concurrent_requests_limit": MAX_CONCURRENT_REQUESTS,
        "max_sends_per_minute_per_mailbox": per_minute,
        "max_sends_per_minute_limit": MAX_SENDS_PER_MINUTE,
        "sent_exactly_once": len(found) == len(keys)
        and all(count == 1 for count in found.values()),
        "limits_held": concurrent <= MAX_CONCURRENT_REQUESTS
        and per_minute <= MAX_SENDS_PER_MINUTE,
    }


if __name__ == "__main__":
    raise SystemExit(main())
