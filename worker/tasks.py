"""Thin, explicitly named tasks: each parses its arguments and calls a service.

The names are the contract with the domain, which queues work by name and never
imports this package; renaming a function must not rename its task. Tasks are
shared, so that they register on whichever app ``make_celery`` builds (the module
one, or a test's), not only on ``worker.app.celery_app``.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from celery import shared_task
from redis.exceptions import RedisError

from interactions.config import Settings
from interactions.db import transaction
from interactions.services import (
    capture_processing,
    captures,
    resend_processing,
    resends,
)
from worker.runtime import runtime_of

logger = logging.getLogger(__name__)

#: The longest wait between tries of a task, in seconds.
MAX_RETRY_DELAY = 600


@shared_task(name="interactions.ping")  # type: ignore[untyped-decorator]
def ping() -> str:
    """Answer "pong": proves a worker is consuming and its results come back."""
    logger.debug("ping")
    return "pong"


@shared_task(bind=True, name="interactions.process_capture", max_retries=None)  # type: ignore[untyped-decorator]
def process_capture(self: Any, capture_id: int) -> str | None:
    """Read, deduplicate and store one captured message."""
    runtime = runtime_of(self.app)
    try:
        status = capture_processing.process_capture(
            runtime.sessions, capture_id, runtime.mailbox_for
        )
    except capture_processing.RetryLater as wait:
        raise self.retry(
            countdown=retry_delay(self.request.retries, wait.delay)
        ) from wait

    return status.value if status else None


@shared_task(bind=True, name="interactions.process_resend", max_retries=None)  # type: ignore[untyped-decorator]
def process_resend(self: Any, resend_id: int) -> str | None:
    """Send one resend from its user's mailbox, once."""
    runtime = runtime_of(self.app)
    try:
        status = resend_processing.process_resend(
            runtime.sessions, resend_id, runtime.mailbox_for, runtime.limiter
        )
    except capture_processing.RetryLater as wait:
        raise self.retry(
            countdown=retry_delay(self.request.retries, wait.delay)
        ) from wait
    except RedisError as error:
        # The limiter's Redis is away: nothing was sent without it; try again.
        logger.warning("resend %s waits for the limiter: %s", resend_id, error)
        raise self.retry(countdown=retry_delay(self.request.retries, None)) from error

    return status.value if status else None


@shared_task(bind=True, name="interactions.sweep_resends")  # type: ignore[untyped-decorator]
def sweep_resends(self: Any) -> int:
    """Send again the resends a lost message or a dead worker left behind."""
    runtime = runtime_of(self.app)
    with transaction(runtime.sessions) as session:
        return resends.sweep(session, sweep_grace(runtime.settings))


@shared_task(bind=True, name="interactions.sweep_captures")  # type: ignore[untyped-decorator]
def sweep_captures(self: Any) -> int:
    """Send again the captures a lost message or a dead worker left behind."""
    runtime = runtime_of(self.app)
    with transaction(runtime.sessions) as session:
        return captures.sweep(
            session, capture_processing.MAX_ATTEMPTS, sweep_grace(runtime.settings)
        )


def sweep_grace(settings: Settings) -> timedelta:
    """How long queued work waits for a worker before it is sent again: two sweeps."""
    return timedelta(seconds=2 * settings.sweep_interval_seconds)


def retry_delay(retries: int, asked: float | None) -> float:
    """Seconds before the next try: what the service asked, else doubling, capped.

    The cap stays far below the Redis visibility timeout, or a waiting task would
    be handed to a second worker.
    """
    backoff: float = min(5 * 2**retries, MAX_RETRY_DELAY)
    return min(max(asked or 0.0, backoff) + random.uniform(0, 1), MAX_RETRY_DELAY)
