"""Round trips the database layer spares: the liveness check of a connection in
steady use, and the transaction around a single statement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from interactions import db
from interactions.config import Settings
from interactions.db import (
    _dumps,
    _loads,
    make_engine,
    make_session_factory,
    one_statement,
    transaction,
)


@pytest.fixture
def pooled(settings: Settings, engine: Engine) -> Iterator[Engine]:
    """An engine of one pooled connection to the test database, on PostgreSQL only:
    SQLite has no server to lose."""
    if settings.is_sqlite:
        pytest.skip("Only a database server drops pooled connections.")

    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pings: list[Any] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_in_steady_use_is_not_pinged(
    pooled: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend_pid(pooled)
    pings = count_pings(pooled, monkeypatch)

    backend_pid(pooled)

    assert pings == []


def test_a_connection_the_server_dropped_while_idle_is_replaced_unseen(
    pooled: Engine, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = backend_pid(pooled)
    with engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        admin.commit()
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    pings = count_pings(pooled, monkeypatch)

    replacement = backend_pid(pooled)

    assert len(pings) == 1
    assert replacement != dropped


def test_a_single_statement_runs_without_a_transaction_of_its_own(
    pooled: Engine,
) -> None:
    sessions = make_session_factory(pooled)

    with one_statement(sessions) as session:
        alone = dbapi_connection(session).autocommit
    with transaction(sessions) as session:
        afterwards = dbapi_connection(session).autocommit

    assert (alone, afterwards) == (True, False)


def dbapi_connection(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


@pytest.mark.parametrize(
    "value",
    [
        {"subject": "Census", "size": 48213, "sent": None, "names": ["Dana", "Pat"]},
        {"size": 2**70},  # past 64 bits: the standard library writes it
        {1: "a key that is not a string"},
    ],
)
def test_json_is_written_as_the_standard_library_reads_it(value: Any) -> None:
    written = _dumps(value)

    assert json.loads(written) == json.loads(json.dumps(value))
    assert _loads(written) == json.loads(written)
