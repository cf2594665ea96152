"""A capture: one request to log a message, from the add-in or a file import."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from interactions.db import Base
from interactions.models._types import UTCDateTime, str_enum, utcnow


class CaptureStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    STORED = "stored"
    DUPLICATE = "duplicate"
    FAILED = "failed"


#: Statuses a capture never leaves.
FINAL_STATUSES = frozenset(
    {CaptureStatus.STORED, CaptureStatus.DUPLICATE, CaptureStatus.FAILED}
)


class Capture(Base):
    """The database is the record of truth: the broker only wakes a worker up."""

    __tablename__ = "capture"
    __table_args__ = (
        Index("ix_capture_firm_message", "firm_id", "internet_message_id"),
        Index("ix_capture_status_queued", "status", "queued_at"),
        Index("ix_capture_firm_created", "firm_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    status: Mapped[CaptureStatus] = mapped_column(
        str_enum(CaptureStatus, 16), default=CaptureStatus.QUEUED
    )
    #: Why it failed, or what it is waiting for, in a sentence a person can act on.
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The request as the add-in sent it, kept so that nothing is lost.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    internet_message_id: Mapped[str | None] = mapped_column(String(998))
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interaction.id", ondelete="SET NULL")
    )
    #: A duplicate whose message id was logged already, but with another body: a
    #: person should look at both (the reason names the interaction).
    has_different_body: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When a worker was last asked to process it; the sweeper asks again if stale.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
