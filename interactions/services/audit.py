"""Writing the audit trail, in the same transaction as the change it records."""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from interactions.models import AuditEvent
from interactions.models._types import utcnow
from interactions.services.access import Actor

log = logging.getLogger(__name__)

# The mapped table, as Core writes it; the declarative base types it loosely.
_RECORD = insert(cast(Table, AuditEvent.__table__))


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    record_type: str,
    record_id: int,
    details: dict[str, Any] | None = None,
    firm_id: int | None = None,
) -> None:
    """Note that ``actor`` (None for the system) did ``action`` to a record."""
    firm = actor.firm_id if actor else firm_id
    if firm is None:
        raise ValueError("A system event needs the firm it happened in.")

    # Written at once by one prebuilt statement: an event is never read back in
    # the transaction that records it, so it needs none of the unit of work.
    session.execute(
        _RECORD,
        {
            "firm_id": firm,
            "user_id": actor.user_id if actor else None,
            "action": action,
            "record_type": record_type,
            "record_id": record_id,
            "details": details or {},
            "at": utcnow(),
        },
    )
    log.info(
        "user %s %s %s %s",
        actor.user_id if actor else "system",
        action,
        record_type,
        record_id,
    )
