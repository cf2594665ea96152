"""Writing the audit trail, in the same transaction as the change it records."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from interactions.models import AuditEvent
from interactions.services.access import Actor

log = logging.getLogger(__name__)


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

    session.add(
        AuditEvent(
            firm_id=firm,
            user_id=actor.user_id if actor else None,
            action=action,
            record_type=record_type,
            record_id=record_id,
            details=details or {},
        )
    )
    log.info(
        "user %s %s %s %s",
        actor.user_id if actor else "system",
        action,
        record_type,
        record_id,
    )
