"""Queueing work for the workers, by task name, once the transaction commits.

The domain never imports the worker package: it names tasks. A task is sent only
after the transaction that recorded its work commits, so a worker never looks for a
row that is not there yet; if sending fails, the row stays queued and the sweeper
sends it again.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from interactions.broker import BrokerUnavailable

log = logging.getLogger(__name__)

_PENDING = "interactions.pending_tasks"
QUEUE = "interactions.queue"
#: After the broker fails to take a task, a process sends nothing for this long:
#: the rows stay queued for the sweeper, and requests answer without waiting on a
#: broker that is down.
BROKER_BACKOFF_SECONDS = 10.0


class TaskQueue(Protocol):
    def send(self, name: str, args: tuple[Any, ...]) -> None: ...


class CeleryQueue:
    """Sends tasks by name through the broker, without the worker's code."""

    def __init__(self, broker_url: str, queue: str = "celery") -> None:
        self._app = Celery(
            "interactions-producer", broker=broker_url, set_as_current=False
        )
        self._app.conf.task_default_queue = queue
        # A request must not hang on a broker that is down: fail fast, and let the
        # sweeper send the task later.
        self._app.conf.broker_connection_timeout = 2
        self._app.conf.broker_connection_retry = False
        self._resting_until = 0.0

    def send(self, name: str, args: tuple[Any, ...]) -> None:
        if time.monotonic() < self._resting_until:
            raise BrokerUnavailable(
                f"the broker failed in the last {BROKER_BACKOFF_SECONDS:.0f} s"
            )

        try:
            self._app.send_task(
                name,
                args=args,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0.1},
            )
        except Exception:
            self._resting_until = time.monotonic() + BROKER_BACKOFF_SECONDS
            raise


class RecordingQueue:
    """Keeps what would have been sent: for tests, and runs with no broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def send(self, name: str, args: tuple[Any, ...]) -> None:
        self.sent.append((name, args))


def enqueue(session: Session, name: str, *args: Any) -> None:
    """Send task ``name`` once this session's transaction commits."""
    session.info.setdefault(_PENDING, []).append((name, args))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending: list[tuple[str, tuple[Any, ...]]] = session.info.pop(_PENDING, [])
    queue: TaskQueue | None = session.info.get(QUEUE)
    for name, args in pending:
        if queue is None:
            log.warning("no queue to send %s%r; the sweeper will send it", name, args)
            continue
        try:
            queue.send(name, args)
        except BrokerUnavailable as resting:
            log.warning(
                "%s%r not sent, %s; the sweeper will send it", name, args, resting
            )
        except Exception:
            log.exception(
                "sending %s%r failed; the sweeper will send it again", name, args
            )


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
