"""The fault suite: workers killed mid-task, Redis stopped, PostgreSQL restarted, a
task outliving the broker's visibility timeout, resends under kill -9, and poison
messages; after each, nothing is lost, nothing is duplicated, and everything ends
in a final state.

Run with ``make faults`` (the issue's durations: a 60 s Redis outage) or ``make
faults-short``; ``make test`` runs the short one after the load suite, on its stack.
"""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from interactions.microsoft.graph import RESEND_HEADER
from interactions.services.capture_processing import MAX_ATTEMPTS
from tests.stack.fixtures import SuiteSize
from tests.stack.harness import Stack, StackUser
from tests.stack.load import (
    LoadClient,
    Round,
    capture_body,
    check_ledger,
    deliver,
)

pytestmark = pytest.mark.faults

Record = Callable[[str, object], None]


@contextmanager
def load_in_background(
    stack: Stack, rate: float, seconds: float, via_graph: bool = False
) -> Iterator[Future[Round]]:
    client = LoadClient(stack, via_graph=via_graph)
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(client.run, rate, seconds)


def settle(stack: Stack, sent: Round, size: SuiteSize, record: Record) -> None:
    """Wait for every capture to be final, check the ledger, and record figures."""
    drain_seconds = stack.wait_final(sent.ledger.capture_ids, size.drain_timeout)
    statuses = check_ledger(stack, sent.ledger)
    record("load", sent.summary("under the fault"))
    record("final", f"{dict(statuses)}, {drain_seconds:.1f} s after the last send")


def test_kill_9_of_worker_processes_mid_task_loses_and_doubles_nothing(
    stack: Stack, suite_size: SuiteSize, record_property: Record
) -> None:
    """kill -9 of every worker pool process, repeatedly, while captures read Graph"""
    slow = stack.graph.faults.add(
        status=200, method="GET", path_contains="/messages/", times=None,
        after_accept_delay=0.4,
    )  # fmt: skip
    kills = 0
    try:
        with load_in_background(
            stack, suite_size.fault_rate, suite_size.fault_seconds, via_graph=True
        ) as sending:
            pause = suite_size.fault_seconds / (suite_size.kill_rounds + 1)
            for _ in range(suite_size.kill_rounds):
                time.sleep(pause)
                kills += stack.kill_worker_children()
            sent = sending.result()
        settle(stack, sent, suite_size, record_property)
    finally:
        stack.graph.faults.clear()

    attempts = stack.sql(
        "SELECT max(attempts) FROM capture WHERE id = ANY(:ids)",
        ids=sent.ledger.capture_ids,
    )[0][0]
    record_property(
        "kills",
        f"{kills} pool processes killed in {suite_size.kill_rounds} rounds; "
        f"{slow.served} slowed Graph reads; most attempts of a capture {attempts}",
    )
    assert kills >= suite_size.kill_rounds


def test_redis_stopped_while_captures_arrive(
    stack: Stack, suite_size: SuiteSize, record_property: Record
) -> None:
    """Redis stopped while captures keep arriving: the API still answers 202 and
    the sweeper queues what was accepted meanwhile"""
    outage = suite_size.redis_outage_seconds
    seconds = outage + 2 * suite_size.fault_seconds
    with load_in_background(stack, suite_size.fault_rate, seconds) as sending:
        time.sleep(suite_size.fault_seconds)
        stopped = time.monotonic()
        stack.redis.stop()
        time.sleep(outage)
        stack.redis.start()
        record_property("outage", f"Redis down {time.monotonic() - stopped:.1f} s")
        sent = sending.result()
    settle(stack, sent, suite_size, record_property)
    assert sent.ledger.answers[503] == 0


def test_postgresql_restarted_mid_run(
    stack: Stack, suite_size: SuiteSize, record_property: Record
) -> None:
    """PostgreSQL restarted mid-run: a 503 with Retry-After at most, never a 500,
    and everything drains afterwards"""
    with load_in_background(
        stack, suite_size.fault_rate, 2 * suite_size.fault_seconds
    ) as sending:
        time.sleep(suite_size.fault_seconds)
        started = time.monotonic()
        stack.postgres.restart()
        record_property(
            "restart", f"PostgreSQL restarted in {time.monotonic() - started:.1f} s"
        )
        sent = sending.result()
    settle(stack, sent, suite_size, record_property)


def test_a_task_outliving_the_visibility_timeout_stores_one_interaction(
    stack: Stack, record_property: Record
) -> None:
    """A task that outlives Redis's visibility timeout is handed to a second worker
    while the first still runs it: one interaction, the capture stored"""
    stack.restart_workers(BROKER_VISIBILITY_TIMEOUT_SECONDS="2")
    user = stack.users[0]
    message_id = f"<visibility-{time.time_ns()}@stack.test>"
    rest_id = deliver(stack, user, message_id, with_attachment=True)
    # The message and its attachments, each read in 10 s (under Graph's read
    # timeout): Redis checks for overdue messages every 10 s or so.
    slow = stack.graph.faults.add(
        status=200, method="GET", path_contains=rest_id.rstrip("="), times=None,
        after_accept_delay=10.0,
    )  # fmt: skip
    try:
        capture_id = post_capture(stack, user, capture_body(user, message_id, rest_id))
        stack.wait_final([capture_id], 120)
    finally:
        stack.graph.faults.clear()
        stack.restart_workers()

    interactions = stack.sql(
        "SELECT count(*) FROM interaction WHERE internet_message_id = :id",
        id=message_id,
    )[0][0]
    status, attempts = stack.sql(
        "SELECT status, attempts FROM capture WHERE id = :id", id=capture_id
    )[0]
    record_property(
        "redelivery",
        f"{slow.served} slowed Graph reads of the message, {attempts} attempts; "
        f"capture {status}, {interactions} interaction",
    )
    assert attempts >= 2, "Redis did not hand the task to a second worker"
    assert interactions == 1
    assert status == "stored"


def test_resends_under_kill_9_are_sent_at_most_once(
    stack: Stack, suite_size: SuiteSize, record_property: Record
) -> None:
    """Resends asked while worker processes are killed mid-send: each ends sent or
    failed, and Sent Items holds each resend at most once"""
    stored = stack.sql(
        "SELECT i.id, i.created_by_id FROM interaction i "
        "WHERE i.internet_message_id LIKE '<load-%' ORDER BY i.id DESC LIMIT :n",
        n=suite_size.resends,
    )
    tokens = {user.user_id: user for user in stack.users}
    stack.graph.faults.add(
        status=200, method="POST", path_contains="/sendMail", times=None,
        after_accept_delay=1.5,
    )  # fmt: skip
    try:
        resend_ids = [
            post_json(stack, tokens[user_id], f"/api/v1/interactions/{id_}/resend", {})
            for id_, user_id in stored
        ]
        kills = 0
        deadline = time.monotonic() + suite_size.fault_seconds
        while time.monotonic() < deadline:
            time.sleep(1.0)
            kills += stack.kill_worker_children()
        statuses = wait_resends(stack, resend_ids, suite_size.drain_timeout)
    finally:
        stack.graph.faults.clear()

    keys = {
        row[0]: row[1]
        for row in stack.sql(
            "SELECT key, status FROM resend WHERE id = ANY(:ids)", ids=resend_ids
        )
    }
    in_sent_items: Counter[str] = Counter()
    for user in stack.users:
        for message in stack.graph.sent_items(user.directory.object_id):
            key = message.header(RESEND_HEADER)
            if key in keys:
                in_sent_items[key] += 1
    record_property(
        "resends",
        f"{len(resend_ids)} asked, {kills} pool processes killed; "
        f"{dict(statuses)}; most copies of one in Sent Items "
        f"{max(in_sent_items.values(), default=0)}",
    )
    assert set(statuses) <= {"sent", "failed"}
    assert all(count == 1 for count in in_sent_items.values())
    assert all(in_sent_items[key] == 1 for key, s in keys.items() if s == "sent")


def test_a_capture_that_kills_its_worker_every_time_ends_failed(
    stack: Stack, record_property: Record
) -> None:
    """A poison capture whose processing kills the worker process every time ends
    failed with its reason after a bounded number of attempts"""
    user = stack.users[1]
    message_id = f"<poison-{time.time_ns()}@stack.test>"
    rest_id = deliver(stack, user, message_id)
    stack.graph.faults.add(
        status=200, method="GET", path_contains=rest_id.rstrip("="), times=None,
        after_accept_delay=10.0,
    )  # fmt: skip
    kills = 0
    try:
        capture_id = post_capture(stack, user, capture_body(user, message_id, rest_id))
        deadline = time.monotonic() + 180
        while stack.statuses([capture_id])[capture_id] != "failed":
            assert time.monotonic() < deadline, "the poison capture never ended"
            if stack.statuses([capture_id])[capture_id] == "processing":
                time.sleep(0.5)
                kills += stack.kill_worker_children()
            time.sleep(0.2)
    finally:
        stack.graph.faults.clear()

    attempts, reason = stack.sql(
        "SELECT attempts, reason FROM capture WHERE id = :id", id=capture_id
    )[0]
    record_property("poison", f"{kills} kills, {attempts} attempts: {reason}")
    assert attempts <= MAX_ATTEMPTS + 1
    assert reason


def test_a_capture_graph_refuses_ends_failed_at_once(
    stack: Stack, record_property: Record
) -> None:
    """A capture of a message the mailbox does not have fails with the reason, on
    its first attempt"""
    user = stack.users[2]
    body = capture_body(user, f"<gone-{time.time_ns()}@stack.test>", "AAMkAGone=")
    capture_id = post_capture(stack, user, body)
    stack.wait_final([capture_id], 60)

    status, attempts, reason = stack.sql(
        "SELECT status, attempts, reason FROM capture WHERE id = :id", id=capture_id
    )[0]
    record_property("refused", f"{status} after {attempts} attempt: {reason}")
    assert (status, attempts) == ("failed", 1)
    assert reason


# -- requests outside the load client ----------------------------------------------


def post_json(stack: Stack, user: StackUser, path: str, body: dict[str, object]) -> int:
    token = user.token
    connection = http.client.HTTPConnection("127.0.0.1", stack.web_port, timeout=60)
    try:
        connection.request(
            "POST",
            path,
            json.dumps(body),
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 202, answer
    new_id: int = answer["id"]
    return new_id


def post_capture(stack: Stack, user: StackUser, body: dict[str, object]) -> int:
    return post_json(stack, user, "/api/v1/captures", body)


def wait_resends(stack: Stack, resend_ids: list[int], timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        rows = stack.sql(
            "SELECT status FROM resend WHERE id = ANY(:ids)", ids=resend_ids
        )
        statuses = Counter(row[0] for row in rows)
        if set(statuses) <= {"sent", "failed"} or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)
