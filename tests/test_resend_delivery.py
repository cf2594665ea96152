"""Exactly one message per resend, counted in the simulated mailbox's Sent Items.

The worker's state machine drives the real gateway (MSAL's silent token from the
user's encrypted cache, O365 over HTTPS) against the simulator, whose faults play a
double click, a worker killed after Graph accepted, a timeout after acceptance, 429
with Retry-After, 503 and a consent that is gone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from interactions.config import Settings
from interactions.limiter import LocalLimiter
from interactions.microsoft.graph import RESEND_HEADER, MailGateway, OutgoingMessage
from interactions.microsoft.tokens import exchange_on_behalf_of
from interactions.models import Resend, ResendStatus, User
from interactions.services import resends
from interactions.services.capture_processing import RetryLater
from interactions.services.resend_processing import process_resend
from simulator.graph import Graph
from tests.conftest import USERS, Factory, RunningSimulator, TokenSource, World
from tests.test_resends import Clock, email

ADMIN = USERS["admin"].object_id


@pytest.fixture
def signed_in(
    db: Session, settings: Settings, world: World, tokens: TokenSource
) -> None:
    """The admin's Graph tokens in their cache, as the API's on-behalf-of left them."""
    user = world.users["admin"]
    exchange_on_behalf_of(
        db, settings, user.id, USERS["admin"].tenant.tenant_id, tokens("admin")
    )
    db.flush()


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Worker:
    """The resend task as Celery runs it: again after each wait it asks for."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, clock: Clock
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.limiter = LocalLimiter(clock=lambda: clock().timestamp())
        self.waits: list[float] = []

    def outbox_for(self, session: Session, user_id: int) -> MailGateway:
        return MailGateway.for_user(session, self.settings, user_id)

    def run_once(self, resend: Resend) -> ResendStatus | None:
        return process_resend(
            self.sessions, resend.id, self.outbox_for, self.limiter, self.clock
        )

    def until_final(self, resend: Resend) -> None:
        for _ in range(30):
            try:
                self.run_once(resend)  # returns only once the resend is final
                return
            except RetryLater as later:
                self.waits.append(later.delay or 0)
                self.clock.advance(later.delay or 1)
        raise AssertionError("the resend never became final")


@pytest.fixture
def worker(sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> Worker:
    return Worker(sessions, settings, clock)


@pytest.fixture
def resend(db: Session, world: World, make: Factory, signed_in: None) -> Resend:
    made = resends.request_resend(db, world.actors["admin"], email(make).id, "click")
    db.flush()
    return made


def sent(graph: Graph, resend: Resend) -> list[Any]:
    return [m for m in graph.sent_items(ADMIN) if m.header(RESEND_HEADER) == resend.key]


def send_faults(graph: Graph, **fault: Any) -> None:
    graph.faults.add(method="POST", path_contains="/sendMail", **fault)


def test_a_resend_lands_once_in_sent_items_with_its_subject_and_recipients(
    db: Session, simulated_graph: Graph, resend: Resend, worker: Worker
) -> None:
    worker.until_final(resend)

    (message,) = sent(simulated_graph, resend)
    assert message.subject == "Census reminder"
    db.refresh(resend)
    assert resend.status is ResendStatus.SENT


def test_a_double_click_sends_one_message(
    db: Session,
    simulated_graph: Graph,
    world: World,
    resend: Resend,
    worker: Worker,
) -> None:
    again = resends.request_resend(
        db, world.actors["admin"], resend.interaction_id or 0, "click"
    )
    assert again.id == resend.id

    worker.until_final(resend)
    worker.until_final(again)  # its task, delivered twice

    assert len(sent(simulated_graph, resend)) == 1


def test_a_worker_killed_after_graph_accepted_leaves_one_message(
    db: Session, simulated_graph: Graph, resend: Resend, worker: Worker
) -> None:
    class Killed(BaseException):
        """The worker process dies: nothing after the send runs."""

    real = worker.outbox_for

    def dies_after_sending(session: Session, user_id: int) -> Any:
        gateway = real(session, user_id)

        class Dying:
            def send_mail(self, message: OutgoingMessage) -> None:
                gateway.send_mail(message)
                raise Killed()

            def find_sent(self, key: str) -> bool:
                return gateway.find_sent(key)

            def close(self) -> None:
                gateway.close()

        return Dying()

    with pytest.raises(Killed):
        process_resend(
            worker.sessions, resend.id, dies_after_sending, worker.limiter, worker.clock
        )
    db.refresh(resend)
    assert resend.status is ResendStatus.SENDING

    worker.until_final(resend)  # the redelivered task

    assert len(sent(simulated_graph, resend)) == 1
    db.refresh(resend)
    assert [a.outcome for a in resend.history] == ["found"]


def test_a_timeout_after_acceptance_is_found_not_sent_again(
    db: Session,
    simulated_graph: Graph,
    resend: Resend,
    worker: Worker,
    settings: Settings,
) -> None:
    worker.settings = dataclasses.replace(settings, graph_send_timeout_seconds=0.5)
    send_faults(simulated_graph, after_accept_delay=1.5)

    worker.until_final(resend)

    assert len(sent(simulated_graph, resend)) == 1
    db.refresh(resend)
    assert resend.status is ResendStatus.SENT
    assert [a.outcome for a in resend.history] == ["unknown", "found"]


@pytest.mark.parametrize("status", [502, 503])
def test_a_5xx_after_acceptance_is_found_not_sent_again(
    db: Session, simulated_graph: Graph, resend: Resend, worker: Worker, status: int
) -> None:
    send_faults(simulated_graph, after_accept_status=status)

    worker.until_final(resend)

    assert len(sent(simulated_graph, resend)) == 1


def test_a_503_before_acceptance_is_sent_once_after_sent_items_says_no(
    db: Session, simulated_graph: Graph, resend: Resend, worker: Worker
) -> None:
    send_faults(simulated_graph, status=503, retry_after=3)

    worker.until_final(resend)

    assert len(sent(simulated_graph, resend)) == 1
    db.refresh(resend)
    assert [a.outcome for a in resend.history] == ["unknown", "accepted"]


def test_429_waits_the_full_retry_after_and_sends_once(
    db: Session, simulated_graph: Graph, resend: Resend, worker: Worker
) -> None:
    send_faults(simulated_graph, status=429, retry_after=7, times=2)

    worker.until_final(resend)

    assert worker.waits[:2] == [7, 7]
    assert len(sent(simulated_graph, resend)) == 1


def test_expired_consent_fails_clearly_and_sends_nothing(
    db: Session,
    simulated_graph: Graph,
    running_simulator: RunningSimulator,
    resend: Resend,
    worker: Worker,
) -> None:
    simulated_graph.faults.expire_tokens(times=1)
    running_simulator.entra.revoke_refresh_tokens(ADMIN)

    worker.until_final(resend)

    assert sent(simulated_graph, resend) == []
    db.refresh(resend)
    assert resend.status is ResendStatus.FAILED
    assert "sign in to Interactions again" in resend.reason
    assert db.get_one(User, resend.user_id).mailbox_consent_lost_at is not None


def test_no_token_cache_fails_with_the_sign_in_reason(
    db: Session, world: World, make: Factory, worker: Worker
) -> None:
    made = resends.request_resend(db, world.actors["editor"], email(make).id, None)
    db.flush()

    worker.until_final(made)

    db.refresh(made)
    assert made.status is ResendStatus.FAILED
    assert "sign in" in made.reason
