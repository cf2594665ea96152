"""Resends: asked once per click, sent exactly once by the worker's state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from interactions.errors import Conflict, Forbidden, NotFound
from interactions.limiter import LocalLimiter
from interactions.microsoft.graph import (
    GraphRequestRefused,
    GraphThrottled,
    GraphUnavailable,
    OutgoingMessage,
    SendOutcomeUnknown,
)
from interactions.microsoft.tokens import ConsentRequired, IdentityUnavailable
from interactions.models import (
    AuditEvent,
    Interaction,
    Participant,
    Plan,
    Resend,
    ResendStatus,
    User,
)
from interactions.queue import QUEUE, RecordingQueue
from interactions.services import resends
from interactions.services.capture_processing import RetryLater
from interactions.services.resend_processing import (
    MAX_SEND_ATTEMPTS,
    SENT_ITEMS_LAG,
    process_resend,
)
from tests.conftest import ApiClient, Factory, World


def email(make: Factory, plan: Plan | None = None) -> Interaction:
    """An email from the firm's admin to a contact, copied to payroll."""
    plan = plan or make.plan(make.client())
    interaction = make.interaction(plan, title="Census reminder")
    interaction.body_html = "<p>Please send the census.</p>"
    for role, address, name in [
        ("From", "admin@acme.test", "Admin"),
        ("To", "dana.rivera@northwind.test", "Dana Rivera"),
        ("Cc", "payroll@northwind.test", "Payroll"),
    ]:
        interaction.participants.append(
            Participant(
                firm_id=interaction.firm_id,
                role=role,
                address=address,
                display_name=name,
            )
        )
    make.session.flush()
    return interaction


# -- asking ----------------------------------------------------------------------------


def test_a_resend_goes_to_the_original_recipients_and_is_queued(
    db: Session, world: World, make: Factory, queue: RecordingQueue
) -> None:
    interaction = email(make)
    db.info[QUEUE] = queue

    resend = resends.request_resend(db, world.actors["admin"], interaction.id, "k1")

    assert resend.status is ResendStatus.REQUESTED
    assert resend.subject == "Census reminder"
    assert [(r["address"], r["kind"]) for r in resend.recipients] == [
        ("dana.rivera@northwind.test", "to"),
        ("payroll@northwind.test", "cc"),
    ]
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "resend")).one()
    assert event.details["resend_id"] == resend.id
    db.commit()
    assert queue.sent == [(resends.RESEND_TASK, (resend.id,))]


def test_a_double_click_and_a_retried_request_make_one_resend(
    db: Session, world: World, make: Factory
) -> None:
    interaction = email(make)
    actor = world.actors["admin"]

    first = resends.request_resend(db, actor, interaction.id, "click-1")
    again = resends.request_resend(db, actor, interaction.id, "click-1")
    no_key = resends.request_resend(db, actor, interaction.id, None)

    assert first.id == again.id == no_key.id
    assert db.scalar(select(func.count()).select_from(Resend)) == 1


def test_a_new_click_after_the_last_resend_finished_resends_again(
    db: Session, world: World, make: Factory
) -> None:
    interaction = email(make)
    actor = world.actors["admin"]
    first = resends.request_resend(db, actor, interaction.id, "click-1")
    first.status = ResendStatus.SENT

    second = resends.request_resend(db, actor, interaction.id, "click-2")

    assert second.id != first.id


def test_only_emails_can_be_resent(db: Session, world: World, make: Factory) -> None:
    call = make.interaction(make.plan(make.client()), type_name="Phone Call")

    with pytest.raises(Conflict, match="Only emails can be resent"):
        resends.request_resend(db, world.actors["admin"], call.id, None)


def test_an_email_without_recipients_is_refused(
    db: Session, world: World, make: Factory
) -> None:
    interaction = make.interaction(make.plan(make.client()))

    with pytest.raises(Conflict, match="no To or Cc participant"):
        resends.request_resend(db, world.actors["admin"], interaction.id, None)


def test_resending_needs_the_add_edit_right(
    db: Session, world: World, make: Factory
) -> None:
    interaction = email(make)

    with pytest.raises(Forbidden, match="Add/Edit Interaction"):
        resends.request_resend(db, world.actors["reader"], interaction.id, None)


def test_another_firms_email_is_not_found(
    db: Session, world: World, make: Factory
) -> None:
    interaction = email(make)

    with pytest.raises(NotFound):
        resends.request_resend(db, world.actors["other"], interaction.id, None)


def test_the_api_answers_202_and_shows_the_state_and_history(
    api: ApiClient, make: Factory
) -> None:
    interaction = email(make)

    made = api.post(
        f"/api/v1/interactions/{interaction.id}/resend", {"request_key": "abc"}
    )
    again = api.post(
        f"/api/v1/interactions/{interaction.id}/resend", {"request_key": "abc"}
    )

    assert made.status_code == 202, made.json
    assert again.json["id"] == made.json["id"]
    shown = api.get(f"/api/v1/resends/{made.json['id']}").json
    assert (shown["status"], shown["label"], shown["requested_by"]) == (
        "requested",
        "Waiting to send",
        "Admin",
    )
    history = api.get(f"/api/v1/interactions/{interaction.id}/resends").json
    assert [r["id"] for r in history["resends"]] == [made.json["id"]]
    assert api.get(f"/api/v1/resends/{made.json['id']}", as_="other").status_code == 404
    call = make.interaction(make.plan(make.client()), type_name="Phone Call")
    refused = api.post(f"/api/v1/interactions/{call.id}/resend", {})
    assert refused.status_code == 409


# -- sending ---------------------------------------------------------------------------


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class Outbox:
    """The user's mailbox: Sent Items, and what each next send does."""

    sent_items: list[OutgoingMessage] = field(default_factory=list)
    #: For each next send: None to accept, an error to raise, or ("accept", error)
    #: to accept it and raise all the same (the answer was lost).
    script: list[Any] = field(default_factory=list)
    calls: int = 0
    closed: int = 0

    def send_mail(self, message: OutgoingMessage) -> None:
        self.calls += 1
        step = self.script.pop(0) if self.script else None
        if isinstance(step, tuple):
            self.sent_items.append(message)
            raise step[1]
        if step is not None:
            raise step
        self.sent_items.append(message)

    def find_sent(self, resend_key: str) -> bool:
        return any(m.resend_key == resend_key for m in self.sent_items)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> LocalLimiter:
    return LocalLimiter(clock=lambda: clock().timestamp())


def run(
    sessions: sessionmaker[Session],
    resend: Resend,
    outbox: Outbox,
    limiter: LocalLimiter,
    clock: Clock,
) -> ResendStatus | None:
    return process_resend(
        sessions, resend.id, lambda session, user_id: outbox, limiter, clock
    )


def until_final(
    sessions: sessionmaker[Session],
    resend: Resend,
    outbox: Outbox,
    limiter: LocalLimiter,
    clock: Clock,
) -> list[float]:
    """Run the task as Celery would, waiting what it asks each time."""
    waits = []
    for _ in range(50):
        try:
            run(sessions, resend, outbox, limiter, clock)  # returns once final
            return waits
        except RetryLater as later:
            waits.append(later.delay or 0)
            clock.advance(later.delay or 1)
    raise AssertionError("the resend never became final")


@pytest.fixture
def resend(db: Session, world: World, make: Factory) -> Resend:
    made = resends.request_resend(db, world.actors["admin"], email(make).id, None)
    db.flush()
    return made


def test_requested_to_sent_sends_once_with_the_header(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox()

    assert run(sessions, resend, outbox, limiter, clock) is ResendStatus.SENT
    assert run(sessions, resend, outbox, limiter, clock) is None  # redelivered

    (message,) = outbox.sent_items
    assert message.resend_key == resend.key
    assert message.subject == "Census reminder"
    assert message.to == [("dana.rivera@northwind.test", "Dana Rivera")]
    assert message.cc == [("payroll@northwind.test", "Payroll")]
    assert "census" in message.body_html
    db.refresh(resend)
    assert (resend.status, resend.attempts, resend.sent_at) == (
        ResendStatus.SENT,
        1,
        clock(),
    )
    assert [a.outcome for a in resend.history] == ["accepted"]
    assert outbox.closed == 1  # the redelivery opened no mailbox


def test_a_timeout_after_acceptance_is_found_in_sent_items_not_sent_again(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox(script=[("accept", SendOutcomeUnknown())])

    with pytest.raises(RetryLater):
        run(sessions, resend, outbox, limiter, clock)
    db.refresh(resend)
    assert resend.status is ResendStatus.UNKNOWN
    until_final(sessions, resend, outbox, limiter, clock)

    assert len(outbox.sent_items) == 1 and outbox.calls == 1
    db.refresh(resend)
    assert resend.status is ResendStatus.SENT
    assert [a.outcome for a in resend.history] == ["unknown", "found"]


def test_a_worker_killed_after_graph_accepted_leaves_one_message(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox()

    class Killed(BaseException):
        pass

    def killed_after_send(message: OutgoingMessage) -> None:
        outbox.sent_items.append(message)
        raise Killed()

    dying = Outbox(sent_items=outbox.sent_items)
    dying.send_mail = killed_after_send  # type: ignore[method-assign]
    with pytest.raises(Killed):
        run(sessions, resend, dying, limiter, clock)
    db.refresh(resend)
    assert resend.status is ResendStatus.SENDING  # as the dead worker left it

    clock.advance(60)
    assert run(sessions, resend, outbox, limiter, clock) is ResendStatus.SENT
    assert len(outbox.sent_items) == 1 and outbox.calls == 0


def test_an_uncertain_send_not_in_sent_items_is_sent_again_after_the_lag(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox(script=[SendOutcomeUnknown()])  # refused before acceptance

    waits = until_final(sessions, resend, outbox, limiter, clock)

    assert len(outbox.sent_items) == 1 and outbox.calls == 2
    assert sum(waits) >= SENT_ITEMS_LAG.total_seconds()
    db.refresh(resend)
    assert [a.outcome for a in resend.history] == ["unknown", "accepted"]


def test_429_waits_the_full_retry_after_then_sends_once(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox(script=[GraphThrottled(37)])

    with pytest.raises(RetryLater) as later:
        run(sessions, resend, outbox, limiter, clock)
    assert later.value.delay == 37
    db.refresh(resend)
    assert resend.status is ResendStatus.REQUESTED
    assert resend.queued_at == clock() + timedelta(seconds=37)
    until_final(sessions, resend, outbox, limiter, clock)

    assert len(outbox.sent_items) == 1
    db.refresh(resend)
    assert [a.outcome for a in resend.history] == ["throttled", "accepted"]


def test_503_is_uncertain_and_checked_before_a_new_send(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox(script=[("accept", SendOutcomeUnknown(retry_after=20))])

    with pytest.raises(RetryLater) as later:
        run(sessions, resend, outbox, limiter, clock)
    assert later.value.delay is not None and later.value.delay >= 20
    until_final(sessions, resend, outbox, limiter, clock)

    assert len(outbox.sent_items) == 1 and outbox.calls == 1


def test_expired_consent_fails_with_the_reason_and_marks_the_user(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    def no_token(session: Session, user_id: int) -> Outbox:
        raise ConsentRequired()

    status = process_resend(sessions, resend.id, no_token, limiter, clock)

    assert status is ResendStatus.FAILED
    db.refresh(resend)
    assert "sign in to Interactions again" in resend.reason
    assert db.get_one(User, resend.user_id).mailbox_consent_lost_at == clock()
    assert process_resend(sessions, resend.id, no_token, limiter, clock) is None


def test_consent_revoked_during_the_send_fails_without_retrying(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox(script=[ConsentRequired()])

    assert run(sessions, resend, outbox, limiter, clock) is ResendStatus.FAILED
    assert outbox.sent_items == []


def test_a_refused_message_fails_with_graphs_reason(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox(script=[GraphRequestRefused()])

    assert run(sessions, resend, outbox, limiter, clock) is ResendStatus.FAILED
    db.refresh(resend)
    assert resend.reason


def test_a_token_that_cannot_be_had_now_waits_without_sending(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    def unavailable(session: Session, user_id: int) -> Outbox:
        raise IdentityUnavailable(15)

    with pytest.raises(RetryLater) as later:
        process_resend(sessions, resend.id, unavailable, limiter, clock)

    assert later.value.delay == 15
    db.refresh(resend)
    assert (resend.status, resend.attempts) == (ResendStatus.REQUESTED, 0)


def test_a_send_that_keeps_failing_is_given_up_with_its_reason(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    outbox = Outbox(script=[GraphThrottled(5)] * (MAX_SEND_ATTEMPTS + 1))

    until_final(sessions, resend, outbox, limiter, clock)

    db.refresh(resend)
    assert resend.status is ResendStatus.FAILED
    assert f"Gave up after {MAX_SEND_ATTEMPTS} tries; the last: " in resend.reason
    assert outbox.sent_items == []


def test_a_busy_read_of_sent_items_waits(
    db: Session,
    sessions: sessionmaker[Session],
    resend: Resend,
    limiter: LocalLimiter,
    clock: Clock,
) -> None:
    resend.status = ResendStatus.UNKNOWN
    db.flush()
    outbox = Outbox()
    outbox.find_sent = lambda key: (_ for _ in ()).throw(GraphUnavailable(9))  # type: ignore[method-assign]

    with pytest.raises(RetryLater) as later:
        run(sessions, resend, outbox, limiter, clock)

    assert later.value.delay == 9
    assert outbox.calls == 0


def test_the_sweeper_sends_stale_resends_again(
    db: Session, resend: Resend, queue: RecordingQueue
) -> None:
    resend.queued_at = resend.queued_at - timedelta(minutes=3)
    db.flush()
    db.info[QUEUE] = queue

    assert resends.sweep(db) == 1
    db.commit()
    assert queue.sent[-1] == (resends.RESEND_TASK, (resend.id,))
