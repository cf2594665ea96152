"""Engine and session handling.

Services take a Session and only flush; the request or task that opened the session
is the one place that commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, MetaData, create_engine, event
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


def make_engine(database_url: str, **options: Any) -> Engine:
    """An engine for PostgreSQL, or for SQLite in WAL mode with foreign keys on."""
    if not database_url.startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
        options.setdefault("json_deserializer", _loads)
        return create_engine(database_url, **options)

    engine = create_engine(
        database_url,
        connect_args={"timeout": 30, "check_same_thread": False},
        **options,
    )
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)

    return engine


def _loads(document: bytes | str) -> Any:
    # A grid page reads two JSON documents a row; orjson reads them several times
    # faster. It refuses what the standard library accepts beyond JSON itself
    # (NaN, integers past 64 bits), which stored payloads may hold.
    try:
        return orjson.loads(document)
    except orjson.JSONDecodeError:
        return json.loads(document)


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
