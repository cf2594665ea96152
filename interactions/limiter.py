"""Limits shared by every process: Graph's per mailbox, and the API's per caller.

Graph serves at most 4 concurrent requests per mailbox, and Exchange Online accepts
about 30 messages a minute from one mailbox before it queues or rejects the rest. A
worker takes a request slot before each Graph call of a mailbox and reserves a send
before each sendMail; both limits hold across all workers. The API's budgets per
user and per firm (interactions.rate_limits) are sliding windows of the same kind as
the sends, kept by the same limiter.

In production the counts live in the broker's Redis, updated by Lua scripts so that
each check-and-count is atomic across processes and hosts. The embedded run has one
worker process, whose threads share an in-process limiter.

Times come from an injected clock, never from the Redis server, so that a simulated
clock drives both implementations. Workers on several hosts share Redis with their
own wall clocks: they are assumed to be kept in step (NTP), as a skew of a few
seconds shifts the sending window by as much.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import redis

MAX_CONCURRENT_REQUESTS = 4
MAX_SENDS_PER_MINUTE = 30
#: The sliding window the sends of a mailbox are counted over, in seconds: Exchange's
#: minute, and a margin for the time between counting a send and its reaching Graph,
#: which differs from one send to the next (a busy worker, a token refresh), so that
#: no 60 seconds of Graph's own count ever holds more than 30.
SEND_WINDOW_SECONDS = 66.0
#: The shortest wait a refused send is told, so that rounding never turns a refusal
#: into a wait of zero, which would read as "sent".
MIN_WAIT_SECONDS = 0.001
#: A worker facing a Redis that does not answer fails its attempt after this many
#: seconds and retries later, instead of hanging.
REDIS_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Window:
    """At most ``limit`` events in any ``seconds``, counted under ``key``."""

    key: str
    limit: int
    seconds: float


@dataclass(frozen=True)
class Wait:
    """A refused reservation: the seconds until every window has room, and the window
    that is full the longest."""

    seconds: float
    window: Window


@dataclass(frozen=True)
class Slot:
    """A held request slot of one mailbox; release it when the request ends."""

    mailbox: str
    token: str


class MailboxLimiter(Protocol):
    """Graph's limits per mailbox; a mailbox is its address, in any case."""

    def acquire(self, mailbox: str, hold_seconds: float = 120.0) -> Slot | None:
        """A request slot, or None when 4 requests of the mailbox are in flight.

        A slot not released within hold_seconds (a killed worker) frees itself.
        """

    def release(self, slot: Slot) -> None:
        """Free the slot; a slot that already freed itself is ignored."""

    def reserve(self, windows: Sequence[Window]) -> Wait | None:
        """None and the event is counted in every window, when each has room; else
        how long to wait, and nothing is counted in any."""

    def count_refusal(self, name: str) -> None:
        """Add one to the count of refusals under ``name`` (for the metrics)."""

    def refusals(self, name: str) -> int:
        """How many refusals were counted under ``name``."""

    def reserve_send(self, mailbox: str) -> float:
        """0.0 and the send is counted, when fewer than 30 sends of the mailbox
        fall in the last SEND_WINDOW_SECONDS; else the seconds to wait, nothing counted.
        """
        window = Window(
            f"{_mailbox_key(mailbox)}:sends", MAX_SENDS_PER_MINUTE, SEND_WINDOW_SECONDS
        )
        wait = self.reserve([window])
        if wait is None:
            return 0.0

        return max(wait.seconds, MIN_WAIT_SECONDS)

    @contextmanager
    def request(self, mailbox: str) -> Iterator[bool]:
        """Hold a request slot for the block: True, or False when none is free."""
        slot = self.acquire(mailbox)
        if slot is None:
            yield False
            return

        try:
            yield True
        finally:
            self.release(slot)


def limiter_for(broker_url: str) -> MailboxLimiter:
    """Redis when the broker is Redis (same server), else the in-process one."""
    return _limiter_for(broker_url)


@functools.cache
def _limiter_for(broker_url: str) -> MailboxLimiter:
    # One limiter per process and broker: the in-process one counts only what its
    # own threads do, and the Redis one keeps its connection pool.
    if broker_url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(
            broker_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return RedisLimiter(client)

    return LocalLimiter()


# -- Redis ---------------------------------------------------------------------------

#: KEYS[1]: the mailbox's slots, each scored by when it frees itself.
#: ARGV: now, the new slot's expiry, its token, the limit.
#: The key lives as long as its longest-held slot, so an idle mailbox leaves nothing.
_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((tonumber(latest) - now) * 1000)))
return 1
"""

#: KEYS: the windows' events, each scored by when it was counted.
#: ARGV: now, a token naming the event, then each window's limit and seconds.
#: Answers {1} when the event is counted in every window, else {0, the seconds to
#: wait, the number of the window full the longest}; the wait is a string, as Redis
#: would truncate a Lua number to an integer. All keys live on one server (the
#: broker's), so that one script sees them all.
_RESERVE = """
local now = tonumber(ARGV[1])
local wait, fullest = 0, 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local rank = count - limit
    local leaving = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')[2]
    local until_free = tonumber(leaving) + window - now
    if until_free > wait then
      wait, fullest = until_free, i
    end
  end
end
if fullest > 0 then
  return {0, string.format('%.17g', wait), fullest}
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 2]) * 1000))
end
return {1}
"""


class RedisLimiter(MailboxLimiter):
    """The limits of every worker of the deployment, kept in Redis."""

    def __init__(
        self,
        client: redis.Redis,
        clock: Callable[[], float] = time.time,
        prefix: str = "interactions:limits",
    ) -> None:
        self._client = client
        self._clock = clock
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._reserve = client.register_script(_RESERVE)

    def acquire(self, mailbox: str, hold_seconds: float = 120.0) -> Slot | None:
        _check_hold(hold_seconds)
        now = self._clock()
        token = _new_token()
        granted = self._acquire(
            keys=[self._key(mailbox, "requests")],
            args=[repr(now), repr(now + hold_seconds), token, MAX_CONCURRENT_REQUESTS],
        )

        return Slot(mailbox, token) if granted == 1 else None

    def release(self, slot: Slot) -> None:
        self._client.zrem(self._key(slot.mailbox, "requests"), slot.token)

    def reserve(self, windows: Sequence[Window]) -> Wait | None:
        if not windows:
            return None

        limits: list[str | int] = []
        for window in windows:
            limits += [window.limit, repr(window.seconds)]
        reply = self._reserve(
            keys=[f"{self._prefix}:{window.key}" for window in windows],
            args=[repr(self._clock()), _new_token(), *limits],
        )
        if reply[0] == 1:
            return None

        return Wait(float(reply[1]), windows[int(reply[2]) - 1])

    def count_refusal(self, name: str) -> None:
        self._client.incr(f"{self._prefix}:refusals:{name}")

    def refusals(self, name: str) -> int:
        value = self._client.get(f"{self._prefix}:refusals:{name}")
        return int(value) if value is not None else 0

    def _key(self, mailbox: str, kind: str) -> str:
        return f"{self._prefix}:{_mailbox_key(mailbox)}:{kind}"


# -- in process ----------------------------------------------------------------------


class LocalLimiter(MailboxLimiter):
    """The limits of one process's threads, for the embedded run's one worker."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        #: Per mailbox, the expiry of each held slot by its token.
        self._slots: dict[str, dict[str, float]] = {}
        #: Per window's key, the times of the events in the window, oldest first.
        self._events: dict[str, deque[float]] = {}
        self._refusals: dict[str, int] = {}

    def acquire(self, mailbox: str, hold_seconds: float = 120.0) -> Slot | None:
        _check_hold(hold_seconds)
        key = _mailbox_key(mailbox)
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(key, {})
            for token, expires_at in list(slots.items()):
                if expires_at <= now:
                    del slots[token]

            if len(slots) >= MAX_CONCURRENT_REQUESTS:
                return None

            token = _new_token()
            slots[token] = now + hold_seconds

        return Slot(mailbox, token)

    def release(self, slot: Slot) -> None:
        key = _mailbox_key(slot.mailbox)
        with self._lock:
            slots = self._slots.get(key, {})
            slots.pop(slot.token, None)
            if not slots:
                self._slots.pop(key, None)

    def reserve(self, windows: Sequence[Window]) -> Wait | None:
        with self._lock:
            now = self._clock()
            longest: Wait | None = None
            for window in windows:
                events = self._events.setdefault(window.key, deque())
                while events and events[0] <= now - window.seconds:
                    events.popleft()

                if len(events) >= window.limit:
                    leaving = events[len(events) - window.limit]
                    wait = Wait(leaving + window.seconds - now, window)
                    if longest is None or wait.seconds > longest.seconds:
                        longest = wait

            if longest is not None:
                return longest

            for window in windows:
                self._events[window.key].append(now)

        return None

    def count_refusal(self, name: str) -> None:
        with self._lock:
            self._refusals[name] = self._refusals.get(name, 0) + 1

    def refusals(self, name: str) -> int:
        return self._refusals.get(name, 0)


# -- shared --------------------------------------------------------------------------


def _mailbox_key(mailbox: str) -> str:
    # Exchange matches addresses without regard to case: one mailbox, one count.
    return mailbox.strip().lower()


def _new_token() -> str:
    return uuid.uuid4().hex


def _check_hold(hold_seconds: float) -> None:
    if hold_seconds <= 0:
        raise ValueError("A slot must be held for a positive number of seconds.")
