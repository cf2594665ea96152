"""A resend: one request to send an email interaction again, from the user's mailbox.

Graph has no idempotency key, so a resend is a state machine in the database,
committed around every call to Graph, and every message it sends carries its key in
a header; after an outcome that may or may not have sent, the worker looks for that
header in the user's Sent Items before it sends again.

    requested ──> sending ──> sent
        ^            │ └────> failed
        │            v
        └─────── unknown ───> sent (found in Sent Items)
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from interactions.db import Base
from interactions.models._types import UTCDateTime, str_enum, utcnow


class ResendStatus(enum.StrEnum):
    REQUESTED = "requested"
    SENDING = "sending"
    SENT = "sent"
    #: Graph may have accepted it: Sent Items decides before any new send.
    UNKNOWN = "unknown"
    FAILED = "failed"


#: Statuses a resend never leaves.
FINAL_RESEND_STATUSES = frozenset({ResendStatus.SENT, ResendStatus.FAILED})


class Resend(Base):
    __tablename__ = "resend"
    __table_args__ = (
        # A double click or a retried request carries the same request key.
        UniqueConstraint("firm_id", "user_id", "request_key"),
        Index("ix_resend_interaction", "interaction_id", "created_at"),
        Index("ix_resend_status_queued", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interaction.id", ondelete="SET NULL")
    )
    #: Who asked; the message goes from their mailbox.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    status: Mapped[ResendStatus] = mapped_column(
        str_enum(ResendStatus, 16), default=ResendStatus.REQUESTED
    )
    #: The value of the message's resend header: how Sent Items is searched.
    key: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    request_key: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    #: [{"address", "name", "kind": "to" | "cc"}], as they were when asked.
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: Why it failed, or what it waits for, in a sentence a person can act on.
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a worker is next due to take it; the sweeper asks again if stale.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    history: Mapped[list[ResendAttempt]] = relationship(
        cascade="all, delete-orphan", order_by="ResendAttempt.number"
    )


class ResendAttempt(Base):
    """One call to send, and what came of it."""

    __tablename__ = "resend_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    resend_id: Mapped[int] = mapped_column(
        ForeignKey("resend.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: accepted, throttled, unknown, refused, found (in Sent Items), not_found
    outcome: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
