"""The Celery face end to end: a real worker, a real broker, a task queued by name.

Runs on the embedded broker (SQLite through SQLAlchemy) always, and on Redis when
one answers on the loopback. When CELERY_BROKER_URL names Redis the environment
promises one, so its absence fails the test instead of skipping it.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import TestWorkController, start_worker
from celery.signals import setup_logging
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from interactions.broker import BrokerUnavailable, check_broker
from interactions.config import Settings, load_settings
from interactions.db import make_session_factory
from interactions.microsoft.graph import RESEND_HEADER
from interactions.microsoft.tokens import exchange_on_behalf_of
from interactions.models import (
    Capture,
    CaptureStatus,
    Interaction,
    InteractionType,
    Participant,
    Resend,
    UserTokenCache,
)
from interactions.models._types import utcnow
from interactions.queue import CeleryQueue, RecordingQueue
from tests.conftest import USERS, TokenSource, World
from web import create_app
from web.context import Runtime
from worker.app import make_celery

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.broker

#: A database of its own on the local Redis, away from a developer's data in db 0.
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/15"
#: Nothing listens on port 1 of the loopback: the connection is refused at once.
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
#: A queue of the test's own, so that a worker of a running stack sharing this
#: Redis never takes the test's ping, nor the test's worker a real task.
TEST_QUEUE = "interactions.test-worker"
ROUND_TRIPS = 5


class FailFastWorkController(TestWorkController):
    """A test worker whose failure to start fails the test instead of hanging it.

    start_worker waits for the consumer to be ready with no timeout; a worker that
    dies while starting (an unrecoverable error is logged, then start() returns)
    would leave it waiting for ever.
    """

    stopped_while_starting = False

    def start(self) -> None:
        try:
            super().start()
        finally:
            if not self._on_started.is_set():
                self.stopped_while_starting = True
                self._on_started.set()


#: Read once, before the fixture below hides it from Celery.
CONFIGURED_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
#: Celery lets these override the URLs of make_celery's settings on every access.
CELERY_ENVIRONMENT = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)


@pytest.fixture(autouse=True)
def _settings_alone_choose_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CELERY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def _leave_logging_alone(**_kwargs: Any) -> None:
    """Any receiver of setup_logging stops Celery from configuring logging itself."""


@pytest.fixture(autouse=True)
def _celery_keeps_off_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # An embedded worker would otherwise empty the root logger's handlers and set
    # its level to ERROR for the rest of the session, and other tests' caplog with
    # it; and it exports these for forked children, which the solo pool has none of.
    for name in ("_MP_FORK_LOGLEVEL_", "_MP_FORK_LOGFILE_", "_MP_FORK_LOGFORMAT_"):
        monkeypatch.delenv(name, raising=False)
    setup_logging.connect(_leave_logging_alone)
    yield
    setup_logging.disconnect(_leave_logging_alone)


def _redis_url() -> tuple[str, bool]:
    """The Redis to test against, and whether the environment requires it."""
    if CONFIGURED_BROKER_URL.startswith(("redis://", "rediss://")):
        return CONFIGURED_BROKER_URL, True

    return LOCAL_REDIS_URL, False


def _app_for(tmp_path: Path, broker_url: str | None = None) -> Celery:
    environ = {"INSTANCE_PATH": str(tmp_path / "instance")}
    if broker_url is not None:
        environ["CELERY_BROKER_URL"] = broker_url

    app = make_celery(load_settings(environ))
    app.conf.task_default_queue = TEST_QUEUE

    return app


@pytest.fixture
def embedded_app(tmp_path: Path) -> Celery:
    app = _app_for(tmp_path)
    # The settings' defaults, not URLs the test wrote: what `make run` uses.
    assert app.conf.broker_url.startswith("sqla+sqlite:///")
    assert app.conf.result_backend.startswith("db+sqlite:///")

    return app


@pytest.fixture
def redis_app(tmp_path: Path) -> Celery:
    url, required = _redis_url()
    try:
        check_broker(url, timeout=2.0)
    except BrokerUnavailable as error:
        if required:
            pytest.fail(
                f"CELERY_BROKER_URL names Redis, but it does not answer: {error}"
            )
        pytest.skip(
            f"No Redis on the loopback ({error}); "
            "set CELERY_BROKER_URL=redis://... to require one."
        )

    return _app_for(tmp_path, url)


def _ping_round_trips(app: Celery) -> list[float]:
    """Queue ping by name, as the domain does, and time each answer in seconds."""
    timings = []
    with start_worker(
        app,
        pool="solo",
        perform_ping_check=False,
        WorkController=FailFastWorkController,
    ) as worker:
        assert not worker.stopped_while_starting, "the worker died while starting"
        for _ in range(ROUND_TRIPS):
            started = time.perf_counter()
            result = app.send_task("interactions.ping")
            # A database result backend is polled, every 0.5 s unless told.
            assert result.get(timeout=10, interval=0.01) == "pong"
            timings.append(time.perf_counter() - started)

    logger.info(
        "%s ping round trip: median %.1f ms, max %.1f ms",
        app.conf.broker_url.partition(":")[0],
        statistics.median(timings) * 1000,
        max(timings) * 1000,
    )

    return timings


def test_ping_round_trip_on_the_embedded_broker(embedded_app: Celery) -> None:
    timings = _ping_round_trips(embedded_app)
    # kombu polls the table every 1 s by default; make_celery brings it to 0.1 s.
    assert statistics.median(timings) < 0.6


def test_ping_round_trip_on_redis(redis_app: Celery) -> None:
    options = redis_app.conf.broker_transport_options
    assert options["visibility_timeout"] == 3600
    timings = _ping_round_trips(redis_app)
    assert statistics.median(timings) < 0.5


def test_check_broker_passes_on_the_embedded_broker(embedded_app: Celery) -> None:
    check_broker(embedded_app.conf.broker_url, timeout=2.0)


def test_check_broker_fails_fast_on_an_unreachable_redis() -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:1"):
        check_broker(UNREACHABLE_REDIS_URL, timeout=1.0)
    assert time.monotonic() - started < 1.5


def test_check_broker_keeps_the_password_out_of_its_message() -> None:
    with pytest.raises(BrokerUnavailable) as raised:
        check_broker("redis://user:s3cret@127.0.0.1:1/0", timeout=1.0)
    assert "s3cret" not in str(raised.value)
    assert "user:***@127.0.0.1:1" in str(raised.value)


def test_the_embedded_broker_gets_no_transport_options(tmp_path: Path) -> None:
    # Every sqla transport option goes to create_engine(), which rejects unknown ones.
    app = _app_for(tmp_path / "fresh")
    assert (tmp_path / "fresh" / "instance").is_dir()
    assert not app.conf.broker_transport_options
    assert app.conf.task_acks_late
    assert app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]


# -- a capture end to end: the API, the broker, a real worker, the database ------------


@pytest.fixture
def committed_cleanup(engine: Engine) -> Iterator[list[str]]:
    """Message ids whose captures and interactions the test committed; removed after."""
    message_ids: list[str] = []
    yield message_ids
    with Session(engine) as session, session.begin():
        for interaction in session.scalars(
            select(Interaction).where(Interaction.internet_message_id.in_(message_ids))
        ):
            session.delete(interaction)
        session.execute(
            delete(Capture).where(Capture.internet_message_id.in_(message_ids))
        )


@dataclass
class Stack:
    """The web app and a worker's app on one broker, over the test database."""

    worker_app: Celery
    client: Any
    headers: dict[str, str]
    engine: Engine

    def capture_body(self, message_ids: list[str], world: World) -> dict[str, Any]:
        """A capture as the pane sends it, for a message of its own."""
        message_id = f"<{uuid.uuid4()}@northwind.test>"
        message_ids.append(message_id)
        with Session(self.engine) as session:
            email = session.scalars(
                select(InteractionType.id).where(
                    InteractionType.firm_id == world.actors["admin"].firm_id,
                    InteractionType.display_name == "Email",
                )
            ).one()
        return {
            "type_id": email,
            "title": "Loan request",
            "item": {
                "internet_message_id": message_id,
                "subject": "Loan request",
                "from": {"address": "dana@northwind.test", "name": "Dana Rivera"},
                "to": [{"address": "admin@acme.test", "name": "Admin"}],
                "sent_at": "2026-11-30T14:05:00+00:00",
                "body_html": "<p>May I borrow from my 401(k)?</p>",
            },
        }

    def post(self, body: dict[str, Any]) -> Any:
        return self.client.post("/api/v1/captures", json=body, headers=self.headers)

    def final_state(self, capture_id: int) -> Any:
        return _final_state(self.client, self.headers, capture_id)

    @contextmanager
    def worker(self) -> Iterator[None]:
        try:
            with start_worker(
                self.worker_app,
                pool="solo",
                perform_ping_check=False,
                WorkController=FailFastWorkController,
            ) as worker:
                assert not worker.stopped_while_starting, "the worker died starting"
                yield
        finally:
            runtime = getattr(self.worker_app, "interactions_runtime", None)
            if runtime is not None:
                runtime.engine.dispose()


def _stack(
    worker_app: Celery,
    settings: Settings,
    engine: Engine,
    base_runtime: Runtime,
    tokens: TokenSource,
    queue: Any = None,
) -> Stack:
    """The stack; ``queue`` stands in for the broker on the web app's side."""
    # The worker's app reads the test database, and the web app queues on its broker.
    worker_app.interactions_settings = replace(
        settings,
        broker_url=worker_app.conf.broker_url,
        result_backend=worker_app.conf.result_backend,
    )
    queue = queue or CeleryQueue(worker_app.conf.broker_url, TEST_QUEUE)
    sessions = make_session_factory(engine, queue)
    web = create_app(Runtime(settings, engine, sessions, base_runtime.validator))
    headers = {"Authorization": f"Bearer {tokens('admin')}"}
    return Stack(worker_app, web.test_client(), headers, engine)


def _capture_end_to_end(stack: Stack, world: World, message_ids: list[str]) -> None:
    body = stack.capture_body(message_ids, world)
    with stack.worker():
        accepted = stack.client.post(
            "/api/v1/captures", json=body, headers=stack.headers
        )
        assert accepted.status_code == 202, accepted.json
        # The same message again, before the first is stored: one interaction.
        again = stack.post(body)
        states = [
            stack.final_state(capture["id"]) for capture in (accepted.json, again.json)
        ]

    assert sorted(state["status"] for state in states) == ["duplicate", "stored"]
    assert states[0]["interaction_id"] == states[1]["interaction_id"]
    with Session(stack.engine) as session:
        stored = session.scalars(
            select(Interaction).where(
                Interaction.internet_message_id == body["item"]["internet_message_id"]
            )
        ).all()
        assert [interaction.title for interaction in stored] == ["Loan request"]
        assert "401(k)" in stored[0].body_text


def _final_state(client: Any, headers: dict[str, str], capture_id: int) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/captures/{capture_id}", headers=headers).json
        if state["status"] in ("stored", "duplicate", "failed"):
            return state
        time.sleep(0.05)

    pytest.fail(f"capture {capture_id} is still {state['status']} after 30 s")


@pytest.fixture(params=["embedded_app", "redis_app"])
def broker_app(request: pytest.FixtureRequest) -> Celery:
    """A worker's app on each broker: the embedded one and Redis."""
    app: Celery = request.getfixturevalue(request.param)
    return app


def test_a_capture_is_stored_by_a_worker(
    broker_app: Celery,
    settings: Settings,
    engine: Engine,
    base_runtime: Runtime,
    tokens: TokenSource,
    world: World,
    committed_cleanup: list[str],
) -> None:
    stack = _stack(broker_app, settings, engine, base_runtime, tokens)
    _capture_end_to_end(stack, world, committed_cleanup)


def _age_capture(engine: Engine, capture_id: int, **values: Any) -> None:
    """Move a capture's queued_at back, as if the grace had passed; set ``values``."""
    with Session(engine) as session, session.begin():
        capture = session.get_one(Capture, capture_id)
        capture.queued_at = utcnow() - timedelta(hours=1)
        for name, value in values.items():
            setattr(capture, name, value)


@pytest.mark.parametrize(
    ("left", "attempts_before"),
    [
        # The web app's message never reached the broker.
        (CaptureStatus.QUEUED, 0),
        # A worker killed after its claim: processing, one attempt, and a task the
        # broker forgot (the embedded broker does).
        (CaptureStatus.PROCESSING, 1),
    ],
    ids=["lost broker message", "dead worker"],
)
def test_the_sweeper_gets_a_capture_left_behind_stored(
    broker_app: Celery,
    settings: Settings,
    engine: Engine,
    base_runtime: Runtime,
    tokens: TokenSource,
    world: World,
    committed_cleanup: list[str],
    left: CaptureStatus,
    attempts_before: int,
) -> None:
    # A RecordingQueue keeps the web app's message from the broker.
    stack = _stack(broker_app, settings, engine, base_runtime, tokens, RecordingQueue())
    accepted = stack.post(stack.capture_body(committed_cleanup, world))
    assert accepted.status_code == 202, accepted.json
    _age_capture(engine, accepted.json["id"], status=left, attempts=attempts_before)

    with stack.worker():
        swept = broker_app.send_task("interactions.sweep_captures")
        assert swept.get(timeout=30, interval=0.05) >= 1
        state = stack.final_state(accepted.json["id"])

    assert state["status"] == "stored"
    assert state["attempts"] == attempts_before + 1


# -- resends ---------------------------------------------------------------------------


@pytest.fixture
def committed_email(engine: Engine, world: World) -> Iterator[int]:
    """A committed email of the admin's to resend; it and its resends go after."""
    actor = world.actors["admin"]
    with Session(engine) as session, session.begin():
        email = session.scalars(
            select(InteractionType).where(
                InteractionType.firm_id == actor.firm_id,
                InteractionType.display_name == "Email",
            )
        ).one()
        interaction = Interaction(
            firm_id=actor.firm_id,
            type=email,
            title=f"Census reminder {uuid.uuid4()}",
            occurred_at=utcnow(),
            body_html="<p>Please send the census.</p>",
        )
        interaction.participants.append(
            Participant(
                firm_id=actor.firm_id,
                role="To",
                address="dana.rivera@northwind.test",
                display_name="Dana Rivera",
            )
        )
        session.add(interaction)
        session.flush()
        interaction_id = interaction.id
    yield interaction_id
    with Session(engine) as session, session.begin():
        session.execute(delete(Resend).where(Resend.interaction_id == interaction_id))
        session.execute(delete(Interaction).where(Interaction.id == interaction_id))
        session.execute(
            delete(UserTokenCache).where(UserTokenCache.user_id == actor.user_id)
        )


def test_a_resend_is_sent_once_by_a_worker(
    broker_app: Celery,
    settings: Settings,
    engine: Engine,
    base_runtime: Runtime,
    tokens: TokenSource,
    world: World,
    committed_email: int,
    running_simulator: Any,
) -> None:
    stack = _stack(broker_app, settings, engine, base_runtime, tokens)
    user = world.users["admin"]
    with Session(engine) as session, session.begin():
        exchange_on_behalf_of(
            session, settings, user.id, USERS["admin"].tenant.tenant_id, tokens("admin")
        )
    path = f"/api/v1/interactions/{committed_email}/resend"

    with stack.worker():
        asked = stack.client.post(
            path, json={"request_key": "one-click"}, headers=stack.headers
        )
        assert asked.status_code == 202, asked.json
        again = stack.client.post(
            path, json={"request_key": "one-click"}, headers=stack.headers
        )
        assert again.json["id"] == asked.json["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = stack.client.get(
                f"/api/v1/resends/{asked.json['id']}", headers=stack.headers
            ).json
            if state["is_final"]:
                break
            time.sleep(0.05)

    assert state["status"] == "sent", state
    graph = running_simulator.app.extensions["graph"]
    with Session(engine) as session:
        key = session.get_one(Resend, asked.json["id"]).key
    sent = [
        m
        for m in graph.sent_items(USERS["admin"].object_id)
        if m.header(RESEND_HEADER) == key
    ]
    assert len(sent) == 1


def test_after_the_broker_fails_a_process_stops_trying_for_a_while() -> None:
    """A broker that is down costs one request its timeout: the next ones are
    answered at once, their work left queued for the sweeper."""
    queue = CeleryQueue(UNREACHABLE_REDIS_URL)
    with pytest.raises(Exception, match=r"(?i)refused|127\.0\.0\.1:1"):
        queue.send("interactions.ping", ())

    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="failed in the last 10 s"):
        queue.send("interactions.ping", ())
    assert time.monotonic() - started < 0.1
