"""Thin, explicitly named tasks: each parses its arguments and calls a service.

The names are the contract with the domain, which queues work by name and never
imports this package; renaming a function must not rename its task. Tasks are
shared, so that they register on whichever app ``make_celery`` builds (the module
one, or a test's), not only on ``worker.app.celery_app``.
"""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="interactions.ping")  # type: ignore[untyped-decorator]
def ping() -> str:
    """Answer "pong": proves a worker is consuming and its results come back."""
    logger.debug("ping")
    return "pong"
