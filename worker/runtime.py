"""What tasks use, built once per worker process (after the fork, at first use)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from interactions.config import Settings
from interactions.db import make_engine, make_session_factory
from interactions.limiter import MailboxLimiter, limiter_for
from interactions.microsoft.graph import MailGateway
from interactions.queue import CeleryQueue


@dataclass(frozen=True)
class WorkerRuntime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    #: The mailboxes' Graph limits, shared by every worker of the broker.
    limiter: MailboxLimiter

    def mailbox_for(self, session: Session, user_id: int) -> MailGateway:
        """The user's mailbox through Graph, with their delegated token."""
        return MailGateway.for_user(session, self.settings, user_id)


def runtime_of(app: Any) -> WorkerRuntime:
    """The runtime of the Celery app the task runs in, made on first use."""
    runtime: WorkerRuntime | None = getattr(app, "interactions_runtime", None)
    if runtime is None:
        settings: Settings = app.interactions_settings
        engine = make_engine(settings.database_url)
        queue = CeleryQueue(settings.broker_url, app.conf.task_default_queue)
        runtime = WorkerRuntime(
            settings,
            engine,
            make_session_factory(engine, queue),
            limiter_for(settings.broker_url),
        )
        app.interactions_runtime = runtime

    return runtime
