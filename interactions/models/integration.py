"""The firm's own systems that report to Interactions, and what they reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interactions.db import Base
from interactions.models._types import UTCDateTime, utcnow


class IntegrationKey(Base):
    """A key one of the firm's systems (its file exchange) calls the API with.

    Only its SHA-256 is kept: the key itself is shown once, when it is made.
    """

    __tablename__ = "integration_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FileExchangeReport(Base):
    """One sent exchange as the file exchange reported it: delivered again, it
    finds its interaction here instead of making another."""

    __tablename__ = "file_exchange_report"
    __table_args__ = (UniqueConstraint("firm_id", "exchange_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    #: The file exchange's own id of the exchange.
    exchange_id: Mapped[str] = mapped_column(String(200))
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interaction.id", ondelete="SET NULL")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    deliveries: Mapped[int] = mapped_column(default=1)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
