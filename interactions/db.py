"""Engine and session handling.

Services take a Session and only flush; the request or task that opened the session
is the one place that commits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, MetaData, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from interactions.queue import QUEUE

#: The largest id an integer primary key holds (PostgreSQL's INTEGER).
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    # Named constraints, so that migrations can alter them on every database.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


#: A pooled PostgreSQL connection left unused for longer than this is pinged before
#: it is handed out, so that one the server dropped meanwhile is replaced unseen. A
#: connection in steady use skips the round trip: if the server went away under it,
#: its next statement fails, and the pool then replaces all its connections at once.
IDLE_PING_SECONDS = 1.0
_CHECKED_IN_AT = "interactions_checked_in_at"


def make_engine(database_url: str, **options: Any) -> Engine:
    """An engine for PostgreSQL, or for SQLite in WAL mode with foreign keys on."""
    if not database_url.startswith("sqlite"):
        options.setdefault("json_serializer", _dumps)
        options.setdefault("json_deserializer", _loads)
        engine = create_engine(database_url, **options)
        if not options.get("pool_pre_ping"):
            _ping_when_idle(engine)

        return engine

    engine = create_engine(
        database_url,
        connect_args={"timeout": 30, "check_same_thread": False},
        **options,
    )
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)

    return engine


def _dumps(value: Any) -> str:
    # A capture stores its request, some 20 KB of JSON, at every request; orjson
    # writes it several times faster. What it refuses (integers past 64 bits, keys
    # that are not strings) the standard library writes.
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _loads(document: bytes | str) -> Any:
    # A grid page reads two JSON documents a row; orjson reads them several times
    # faster. It refuses what the standard library accepts beyond JSON itself
    # (NaN, integers past 64 bits), which stored payloads may hold.
    try:
        return orjson.loads(document)
    except orjson.JSONDecodeError:
        return json.loads(document)


def _ping_when_idle(engine: Engine) -> None:
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        is_idle = checked_in_at is not None and (
            time.monotonic() - checked_in_at >= IDLE_PING_SECONDS
        )
        if not is_idle:
            return

        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool replaces this connection and every older one, and retries.
            raise exc.InvalidatePoolError() from error

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions begin, so that
    # savepoints and WAL readers behave as on PostgreSQL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: An execution option: a unit of work that will write takes SQLite's write lock when
#: it begins. A deferred transaction that reads and then writes fails at once when
#: another connection committed in between, which no busy timeout can wait out.
WRITES = "interactions_writes"


def _begin_sqlite(connection: Any) -> None:
    writes = connection.get_execution_options().get(WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def make_session_factory(engine: Engine, queue: Any = None) -> sessionmaker[Session]:
    """Sessions whose committed work is queued on ``queue`` (see interactions.queue)."""
    return sessionmaker(engine, expire_on_commit=False, info={QUEUE: queue})


def will_write(session: Session) -> None:
    """Declare, before its first statement, that the session's work writes.

    Only SQLite needs to know; elsewhere the session still connects lazily, at its
    first statement, and a unit of work that reads nothing costs nothing.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={WRITES: True})


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back when it raises."""
    with factory() as session, session.begin():
        will_write(session)
        yield session


@contextmanager
def one_statement(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work of a single statement, which is atomic on its own.

    On PostgreSQL it runs in autocommit, sparing the round trips of BEGIN and
    COMMIT; SQLite takes its write lock as for any other write. A session bound to
    a connection that began a transaction already stays in that transaction.
    """
    with factory() as session, session.begin():
        bind = session.get_bind()
        if bind.dialect.name == "sqlite":
            will_write(session)
        elif isinstance(bind, Engine):
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
