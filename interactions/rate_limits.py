"""The API's budgets: how many requests a minute each user, and each firm, may make.

Every call a person makes counts against the general budget of calls; a capture also
counts against the captures' budget, which is smaller, as each one queues work for a
worker and may read the mailbox through Graph. A request over a budget is refused
before anything is read or stored, with the seconds until the window has room; the
add-in waits them and sends the same capture again, so a burst is slowed, never lost.

The counts are sliding windows of one minute in the shared limiter: the broker's
Redis in production, so that every web process and node sees the same counts, or
the process itself in the embedded run.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import time
from dataclasses import dataclass

import redis

from interactions.config import Settings
from interactions.errors import TooManyRequests
from interactions.limiter import MailboxLimiter, Wait, Window

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
#: After Redis fails to answer, requests pass unchecked for this long before the
#: next try, so that an outage costs one request its timeout, not every request.
UNCHECKED_SECONDS = 10.0


class Budget(enum.StrEnum):
    CALLS = "calls"
    CAPTURES = "captures"


@dataclass(frozen=True)
class Rates:
    """Requests a minute; 0 is no limit."""

    per_user: int
    per_firm: int


class RateLimits:
    def __init__(self, limiter: MailboxLimiter, calls: Rates, captures: Rates) -> None:
        self._limiter = limiter
        self._rates = {Budget.CALLS: calls, Budget.CAPTURES: captures}
        self._unchecked_until = 0.0

    @classmethod
    def of(cls, settings: Settings, limiter: MailboxLimiter) -> RateLimits:
        return cls(
            limiter,
            calls=Rates(settings.api_rate_per_user, settings.api_rate_per_firm),
            captures=Rates(
                settings.capture_rate_per_user, settings.capture_rate_per_firm
            ),
        )

    def take(self, firm_id: int, user_id: int | None, *budgets: Budget) -> None:
        """Count one request against each budget, for the user (when a person makes
        it) and the firm; raise TooManyRequests, counting nothing, when one is spent.
        """
        named = {
            window: (budget, scope)
            for budget in budgets
            for window, scope in self._windows(budget, firm_id, user_id)
        }
        if not named or time.monotonic() < self._unchecked_until:
            return

        try:
            wait = self._limiter.reserve(list(named))
        except redis.RedisError as error:
            # The limits protect the service; a Redis that does not answer must
            # not take the API down with it, nor slow every request by a timeout.
            self._unchecked_until = time.monotonic() + UNCHECKED_SECONDS
            log.warning(
                "rate limits not checked for %.0f s, Redis failed: %s",
                UNCHECKED_SECONDS,
                error,
            )
            return

        if wait is not None:
            budget, scope = named[wait.window]
            self._refuse(wait, budget, scope)

    def refusals(self, budget: Budget) -> int:
        """Requests refused over the budget, by every process since counting began."""
        try:
            return self._limiter.refusals(f"api:{budget.value}")
        except redis.RedisError:
            return 0

    def _windows(
        self, budget: Budget, firm_id: int, user_id: int | None
    ) -> list[tuple[Window, str]]:
        """The budget's windows of the user and the firm, each with its scope."""
        rates = self._rates[budget]
        windows = []
        if user_id is not None and rates.per_user > 0:
            key = f"api:{budget.value}:user:{user_id}"
            windows.append((Window(key, rates.per_user, WINDOW_SECONDS), "user"))
        if rates.per_firm > 0:
            key = f"api:{budget.value}:firm:{firm_id}"
            windows.append((Window(key, rates.per_firm, WINDOW_SECONDS), "firm"))

        return windows

    def _refuse(self, wait: Wait, budget: Budget, scope: str) -> None:
        seconds = max(1, math.ceil(wait.seconds))
        with contextlib.suppress(redis.RedisError):
            self._limiter.count_refusal(f"api:{budget.value}")
        log.info("refused over the %s budget: %s", budget.value, wait.window.key)

        who = "You are" if scope == "user" else "Your firm is"
        what = "captures" if budget == Budget.CAPTURES else "requests"
        unit = "second" if seconds == 1 else "seconds"
        raise TooManyRequests(
            f"{who} sending {what} faster than {wait.window.limit} a minute; "
            f"try again in {seconds} {unit}.",
            retry_after=seconds,
        )
