"""The Celery app, configured from the settings.

Run a worker with ``celery -A worker.app:celery_app worker``. Delivery is at least
once: a task is acknowledged only after it returns, so every task must be idempotent
(the services it calls deduplicate in the database, which is the record of truth).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from celery import Celery, signals
from sqlalchemy.engine import make_url

from interactions import logs
from interactions.config import Settings, load_settings

logger = logging.getLogger(__name__)

#: The longest a task may run before its process is killed (seconds). Tasks make a
#: few Graph calls each; a hung socket must not hold a worker slot for ever.
TASK_TIME_LIMIT = 300
#: Raised as SoftTimeLimitExceeded inside the task first, so it can record why.
TASK_SOFT_TIME_LIMIT = 240
#: The embedded (SQLAlchemy) broker polls its table; kombu's default of 1 s makes
#: every round trip last about a second, 0.1 s brings it to about 100 ms.
SQLA_POLLING_INTERVAL = 0.1
#: Results are only read by whoever queued the task, soon after; keep them a day.
RESULT_EXPIRES = 24 * 3600


#: Celery reads these from os.environ on every access, ahead of the app's own
#: configuration; load_settings reads the first and last of them too.
_CELERY_ENVIRONMENT = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)


@signals.task_prerun.connect  # type: ignore[untyped-decorator]
def _task_id_on_logs(task_id: str | None = None, **_: Any) -> None:
    logs.task_id.set(task_id or "")


@signals.task_postrun.connect  # type: ignore[untyped-decorator]
def _task_id_off_logs(**_: Any) -> None:
    logs.task_id.set("")


#: The log format of the app made last, for the logging Celery sets up after.
_log_format = "text"


@signals.after_setup_logger.connect  # type: ignore[untyped-decorator]
@signals.after_setup_task_logger.connect  # type: ignore[untyped-decorator]
def _shape_worker_logs(logger: logging.Logger, **_: Any) -> None:
    """Celery's own handlers, in the settings' format and with the task's id."""
    for handler in logger.handlers:
        handler.addFilter(logs.WithIds())
        if _log_format == "json":
            handler.setFormatter(logs.JsonFormatter())


def make_celery(settings: Settings) -> Celery:
    """A Celery app for these settings, with the tasks of ``worker.tasks``.

    Celery lets the CELERY_* variables of the process environment override the URLs
    given here. That is harmless when the settings came from that same environment,
    as in every real process; otherwise (settings built from another mapping, as in
    tests) it is logged, since the app would not use the broker it was given.
    """
    global _log_format
    _log_format = settings.log_format
    for url in (settings.broker_url, settings.result_backend):
        _ensure_sqlite_folder(url)
    _warn_of_overrides(settings)

    app = Celery(
        "interactions",
        broker=settings.broker_url,
        backend=settings.result_backend,
        include=["worker.tasks"],
    )
    app.conf.update(_base_config())
    # The settings travel with the app, so that tasks build their runtime from the
    # app they run in (the module's, or a test's).
    app.interactions_settings = settings
    every = settings.sweep_interval_seconds
    app.conf.beat_schedule = {
        "sweep-captures": {"task": "interactions.sweep_captures", "schedule": every},
        "sweep-resends": {"task": "interactions.sweep_resends", "schedule": every},
    }
    if _is_redis(settings.broker_url):
        # Redis hands an unacknowledged message to another worker after this long.
        # It must exceed the longest run (TASK_TIME_LIMIT) plus the longest
        # countdown or retry backoff, or a task runs twice; the default of an hour
        # is Redis's own. Only a test of that redelivery sets it shorter.
        app.conf.broker_transport_options = _redis_options(
            settings.broker_visibility_timeout_seconds
        )
    elif settings.broker_url.startswith("sqla+"):
        _tune_sqlalchemy_transport()

    logger.debug(
        "Celery app configured for broker %s",
        _scheme(settings.broker_url),
    )

    return app


def _redis_options(visibility_timeout: float) -> dict[str, Any]:
    """The visibility timeout, and how often to look for messages past it.

    kombu looks every 10 s, but scans only at every tenth look (100 s); a shorter
    timeout is looked for about as often as itself, or it would not take effect.
    """
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": min(10.0, visibility_timeout),
        "unacked_restore_throttle": max(1, min(10, round(visibility_timeout / 100))),
    }


def _base_config() -> dict[str, Any]:
    return {
        # At least once: acknowledge after the task returns, and give the message
        # back when the worker process dies under it (SIGKILL, OOM), which would
        # otherwise count as done.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # With late acks, a prefetched message waits unacknowledged behind a long
        # task; fetch one at a time so that idle workers get the work instead.
        "worker_prefetch_multiplier": 1,
        # A lost broker connection means unacknowledged tasks will be redelivered;
        # cancel them rather than let them finish and run a second time.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "task_time_limit": TASK_TIME_LIMIT,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT,
        "result_expires": RESULT_EXPIRES,
        # JSON only: pickle from a shared broker would run whatever it is sent.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "enable_utc": True,
        "timezone": "UTC",
    }


def _warn_of_overrides(settings: Settings) -> None:
    wanted = {
        "CELERY_BROKER_URL": settings.broker_url,
        "CELERY_RESULT_BACKEND": settings.result_backend,
    }
    for name in _CELERY_ENVIRONMENT:
        value = os.environ.get(name)
        if value and value != wanted.get(name):
            logger.warning(
                "%s in the environment overrides the settings given to make_celery",
                name,
            )


def _tune_sqlalchemy_transport() -> None:
    # Not through broker_transport_options: that transport passes every option to
    # create_engine(), which rejects polling_interval. The class attribute is the
    # one place it reads the interval from.
    from kombu.transport import sqlalchemy as sqla_transport

    sqla_transport.Transport.polling_interval = SQLA_POLLING_INTERVAL


def _ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite broker or result database; SQLite will not."""
    scheme, _, rest = url.partition("+")
    if scheme not in ("sqla", "db") or not rest.startswith("sqlite"):
        return

    database = make_url(rest).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


def _scheme(url: str) -> str:
    # Only the scheme: a broker URL may carry a password.
    return url.partition("://")[0]


celery_app = make_celery(load_settings())
