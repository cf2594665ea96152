"""The per-mailbox limits on Graph, in process and in Redis, on a simulated clock.

Every behaviour runs against both limiters. The Redis one runs when a Redis answers
on the loopback; when REQUIRE_SERVICES=1, or CELERY_BROKER_URL names Redis, the
environment promises one, so its absence fails the test instead of skipping it.
Each test keeps its keys under a prefix of its own and deletes only those.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import random
import threading
import uuid
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
import redis

from interactions.limiter import (
    MAX_CONCURRENT_REQUESTS,
    MAX_SENDS_PER_MINUTE,
    SEND_WINDOW_SECONDS,
    LocalLimiter,
    MailboxLimiter,
    RedisLimiter,
    limiter_for,
)

#: A database of its own on the local Redis, away from the broker's.
LIMITER_REDIS_URL = "redis://127.0.0.1:6379/10"
MAILBOX = "dana.rivera@acme.test"
OTHER_MAILBOX = "lee.chan@acme.test"
#: Whole seconds, so that the clock's arithmetic is exact.
START = 1_000_000.0


class SimulatedClock:
    """A clock that moves only when the test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- fixtures -------------------------------------------------------------------------


def _redis_is_required() -> bool:
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    return os.environ.get("REQUIRE_SERVICES") == "1" or broker_url.startswith(
        ("redis://", "rediss://")
    )


@pytest.fixture
def prefix() -> str:
    """A key prefix of the test's own."""
    return f"interactions:test-limits:{uuid.uuid4().hex}"


@pytest.fixture
def redis_client(prefix: str) -> Iterator[redis.Redis]:
    """A client of the local Redis; the keys the test left under its prefix go."""
    client = redis.Redis.from_url(
        LIMITER_REDIS_URL, socket_timeout=2, socket_connect_timeout=2
    )
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        if _redis_is_required():
            pytest.fail(f"Redis is required but {LIMITER_REDIS_URL} failed: {error}")
        pytest.skip(f"No Redis at {LIMITER_REDIS_URL} ({error}).")

    yield client

    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock()


@pytest.fixture(params=["local", "redis"])
def limiter(
    request: pytest.FixtureRequest, clock: SimulatedClock, prefix: str
) -> MailboxLimiter:
    if request.param == "local":
        return LocalLimiter(clock)

    client: redis.Redis = request.getfixturevalue("redis_client")
    return RedisLimiter(client, clock, prefix)


# -- request slots -------------------------------------------------------------------


def test_a_fifth_concurrent_request_is_refused(limiter: MailboxLimiter) -> None:
    slots = [limiter.acquire(MAILBOX) for _ in range(MAX_CONCURRENT_REQUESTS)]

    assert all(slots)
    assert len({slot.token for slot in slots if slot}) == MAX_CONCURRENT_REQUESTS
    assert limiter.acquire(MAILBOX) is None


def test_a_released_slot_can_be_taken_again(limiter: MailboxLimiter) -> None:
    slots = [limiter.acquire(MAILBOX) for _ in range(MAX_CONCURRENT_REQUESTS)]
    assert slots[0] is not None

    limiter.release(slots[0])

    assert limiter.acquire(MAILBOX) is not None
    assert limiter.acquire(MAILBOX) is None


def test_a_slot_never_released_frees_itself_after_its_hold(
    limiter: MailboxLimiter, clock: SimulatedClock
) -> None:
    for _ in range(MAX_CONCURRENT_REQUESTS - 1):
        limiter.acquire(MAILBOX, hold_seconds=120)
    limiter.acquire(MAILBOX, hold_seconds=30)

    clock.advance(29)
    assert limiter.acquire(MAILBOX) is None

    clock.advance(1)
    assert limiter.acquire(MAILBOX) is not None
    assert limiter.acquire(MAILBOX) is None


def test_releasing_a_slot_that_freed_itself_frees_no_other(
    limiter: MailboxLimiter, clock: SimulatedClock
) -> None:
    expired = limiter.acquire(MAILBOX, hold_seconds=10)
    assert expired is not None
    clock.advance(10)
    for _ in range(MAX_CONCURRENT_REQUESTS):
        assert limiter.acquire(MAILBOX) is not None

    limiter.release(expired)

    assert limiter.acquire(MAILBOX) is None


def test_request_holds_a_slot_for_its_block(limiter: MailboxLimiter) -> None:
    for _ in range(MAX_CONCURRENT_REQUESTS - 1):
        limiter.acquire(MAILBOX)

    with limiter.request(MAILBOX) as granted:
        assert granted
        with limiter.request(MAILBOX) as refused:
            assert not refused

    assert limiter.acquire(MAILBOX) is not None


def test_request_releases_its_slot_when_the_block_raises(
    limiter: MailboxLimiter,
) -> None:
    for _ in range(MAX_CONCURRENT_REQUESTS - 1):
        limiter.acquire(MAILBOX)

    with pytest.raises(RuntimeError), limiter.request(MAILBOX):
        raise RuntimeError("Graph failed")

    assert limiter.acquire(MAILBOX) is not None


@pytest.mark.parametrize("hold_seconds", [0, -1])
def test_a_slot_must_be_held_for_some_time(
    limiter: MailboxLimiter, hold_seconds: float
) -> None:
    with pytest.raises(ValueError, match="positive"):
        limiter.acquire(MAILBOX, hold_seconds=hold_seconds)


# -- sends ---------------------------------------------------------------------------


def test_thirty_sends_a_minute_pass(
    limiter: MailboxLimiter, clock: SimulatedClock
) -> None:
    for _ in range(MAX_SENDS_PER_MINUTE):
        assert limiter.reserve_send(MAILBOX) == 0.0
        clock.advance(1)


def test_the_thirty_first_send_waits_until_the_oldest_leaves_the_window(
    limiter: MailboxLimiter, clock: SimulatedClock
) -> None:
    for _ in range(MAX_SENDS_PER_MINUTE):
        limiter.reserve_send(MAILBOX)
        clock.advance(1)
    # The oldest was sent 30 s ago: it leaves the window 30 s before its end.
    leaves = SEND_WINDOW_SECONDS - 30
    assert limiter.reserve_send(MAILBOX) == leaves

    clock.advance(leaves - 0.5)
    assert limiter.reserve_send(MAILBOX) == 0.5

    clock.advance(0.5)
    assert limiter.reserve_send(MAILBOX) == 0.0
    assert limiter.reserve_send(MAILBOX) == 1.0


def test_a_refused_send_is_not_counted(
    limiter: MailboxLimiter, clock: SimulatedClock
) -> None:
    for _ in range(MAX_SENDS_PER_MINUTE):
        limiter.reserve_send(MAILBOX)
    for _ in range(10):
        assert limiter.reserve_send(MAILBOX) == SEND_WINDOW_SECONDS

    clock.advance(SEND_WINDOW_SECONDS)

    for _ in range(MAX_SENDS_PER_MINUTE):
        assert limiter.reserve_send(MAILBOX) == 0.0


# -- mailboxes -----------------------------------------------------------------------


def test_mailboxes_are_limited_apart(limiter: MailboxLimiter) -> None:
    for _ in range(MAX_CONCURRENT_REQUESTS):
        limiter.acquire(MAILBOX)
    for _ in range(MAX_SENDS_PER_MINUTE):
        limiter.reserve_send(MAILBOX)

    assert limiter.acquire(OTHER_MAILBOX) is not None
    assert limiter.reserve_send(OTHER_MAILBOX) == 0.0
    assert limiter.acquire(MAILBOX) is None
    assert limiter.reserve_send(MAILBOX) > 0


def test_a_mailbox_is_one_whatever_the_case_of_its_address(
    limiter: MailboxLimiter,
) -> None:
    for _ in range(MAX_CONCURRENT_REQUESTS):
        limiter.acquire(MAILBOX)
    for _ in range(MAX_SENDS_PER_MINUTE):
        limiter.reserve_send(MAILBOX)

    assert limiter.acquire(MAILBOX.upper()) is None
    assert limiter.reserve_send(MAILBOX.upper()) > 0


# -- 100 resends of one mailbox --------------------------------------------------------


@dataclass
class ResendLog:
    """What the simulated workers did: slots held, and when each send started."""

    in_flight: int = 0
    max_in_flight: int = 0
    sent: list[int] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)

    def max_sends_in_a_window(self, seconds: float = 60.0) -> int:
        # The most sends in any window (t - 60, t]; one ending at a send is a worst.
        times = sorted(self.sent_at)
        return max(
            index + 1 - bisect_right(times, at - seconds)
            for index, at in enumerate(times)
        )


def _resend_worker(
    limiter: MailboxLimiter,
    clock: SimulatedClock,
    queued: deque[int],
    log: ResendLog,
    durations: random.Random,
) -> Iterator[float]:
    """One worker taking resends off the queue; yields the simulated seconds it sleeps.

    A refused slot is tried again a second later. A refused send gives its slot back
    and waits as long as it was told, as a task retried with that countdown would.
    """
    while queued:
        resend_id = queued.popleft()
        while True:
            slot = limiter.acquire(MAILBOX)
            if slot is None:
                yield 1.0
                continue

            log.in_flight += 1
            log.max_in_flight = max(log.max_in_flight, log.in_flight)
            wait = limiter.reserve_send(MAILBOX)
            if wait > 0:
                log.in_flight -= 1
                limiter.release(slot)
                yield wait
                continue

            log.sent.append(resend_id)
            log.sent_at.append(clock())
            yield durations.uniform(0.5, 4.0)  # sendMail's round trip
            log.in_flight -= 1
            limiter.release(slot)
            break


def _run(clock: SimulatedClock, workers: list[Iterator[float]]) -> None:
    """Wake each worker when its sleep ends, in simulated time order."""
    wakes = [(clock.now, order, worker) for order, worker in enumerate(workers)]
    heapq.heapify(wakes)
    order = len(workers)
    while wakes:
        clock.now, _, worker = heapq.heappop(wakes)
        pause = next(worker, None)
        if pause is not None:
            heapq.heappush(wakes, (clock.now + pause, order, worker))
            order += 1


def test_100_resends_of_one_mailbox_keep_to_its_limits(
    limiter: MailboxLimiter, clock: SimulatedClock
) -> None:
    queued = deque(range(100))
    log = ResendLog()
    durations = random.Random(7)
    workers = [_resend_worker(limiter, clock, queued, log, durations) for _ in range(8)]

    _run(clock, workers)

    assert sorted(log.sent) == list(range(100))
    assert log.max_in_flight == MAX_CONCURRENT_REQUESTS
    assert log.max_sends_in_a_window() == MAX_SENDS_PER_MINUTE
    # 30 in the first minute, 30 in each of the next two, the last 10 in the fourth.
    assert max(log.sent_at) - min(log.sent_at) >= 180


# -- Redis only ----------------------------------------------------------------------


def test_redis_keys_expire_once_their_slots_and_sends_would(
    redis_client: redis.Redis, clock: SimulatedClock, prefix: str
) -> None:
    limiter = RedisLimiter(redis_client, clock, prefix)
    requests_key = f"{prefix}:{MAILBOX}:requests"

    limiter.acquire(MAILBOX, hold_seconds=120)
    limiter.acquire(MAILBOX, hold_seconds=5)
    limiter.reserve_send(MAILBOX)

    assert 115_000 < redis_client.pttl(requests_key) <= 120_000
    window_ms = SEND_WINDOW_SECONDS * 1000
    assert (
        window_ms - 5_000 < redis_client.pttl(f"{prefix}:{MAILBOX}:sends") <= window_ms
    )


def test_redis_keeps_no_key_for_a_mailbox_whose_slots_are_released(
    redis_client: redis.Redis, clock: SimulatedClock, prefix: str
) -> None:
    limiter = RedisLimiter(redis_client, clock, prefix)
    slots = [limiter.acquire(MAILBOX) for _ in range(2)]

    for slot in slots:
        assert slot is not None
        limiter.release(slot)

    assert not list(redis_client.scan_iter(match=f"{prefix}:*"))


def _fixed_time() -> float:
    return START


def _hammer(
    prefix: str, barrier: Barrier, results: Queue[list[tuple[int, int]]], rounds: int
) -> None:
    """Try for more than a mailbox allows, from a process and a client of its own.

    Each round, all processes start together on a fresh mailbox.
    """
    client = redis.Redis.from_url(LIMITER_REDIS_URL, socket_timeout=5)
    limiter = RedisLimiter(client, _fixed_time, prefix)
    granted = []
    for round_number in range(rounds):
        mailbox = f"round-{round_number}@acme.test"
        barrier.wait(timeout=30)
        slots = sum(limiter.acquire(mailbox) is not None for _ in range(3))
        sends = sum(limiter.reserve_send(mailbox) == 0.0 for _ in range(8))
        granted.append((slots, sends))

    results.put(granted)
    client.close()


def test_redis_limits_hold_across_processes(
    redis_client: redis.Redis, prefix: str
) -> None:
    context = multiprocessing.get_context("spawn")
    processes, rounds = 6, 40
    barrier = context.Barrier(processes)
    results: Queue[list[tuple[int, int]]] = context.Queue()
    workers = [
        context.Process(target=_hammer, args=(prefix, barrier, results, rounds))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()

    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    assert all(worker.exitcode == 0 for worker in workers)
    for round_number in range(rounds):
        granted = [outcome[round_number] for outcome in outcomes]
        assert sum(slots for slots, _ in granted) == MAX_CONCURRENT_REQUESTS
        assert sum(sends for _, sends in granted) == MAX_SENDS_PER_MINUTE


def test_in_process_limits_hold_across_threads() -> None:
    limiter = LocalLimiter(_fixed_time)
    threads, rounds = 8, 40
    barrier = threading.Barrier(threads)
    granted: list[tuple[int, int, int]] = []

    def hammer() -> None:
        for round_number in range(rounds):
            mailbox = f"round-{round_number}@acme.test"
            barrier.wait(timeout=30)
            slots = sum(limiter.acquire(mailbox) is not None for _ in range(3))
            sends = sum(limiter.reserve_send(mailbox) == 0.0 for _ in range(8))
            granted.append((round_number, slots, sends))

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(granted) == threads * rounds
    for round_number in range(rounds):
        in_round = [entry for entry in granted if entry[0] == round_number]
        assert sum(slots for _, slots, _ in in_round) == MAX_CONCURRENT_REQUESTS
        assert sum(sends for _, _, sends in in_round) == MAX_SENDS_PER_MINUTE


# -- choosing one --------------------------------------------------------------------


def test_a_redis_broker_shares_its_server_with_the_limiter() -> None:
    limiter = limiter_for("redis://127.0.0.1:6379/10")

    assert isinstance(limiter, RedisLimiter)
    assert limiter_for("redis://127.0.0.1:6379/10") is limiter


@pytest.mark.parametrize(
    "broker_url", ["sqla+sqlite:///instance/broker.sqlite", "memory://"]
)
def test_any_other_broker_gets_the_one_in_process_limiter(broker_url: str) -> None:
    limiter = limiter_for(broker_url)

    assert isinstance(limiter, LocalLimiter)
    assert limiter_for(broker_url) is limiter
