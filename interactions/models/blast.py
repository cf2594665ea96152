"""Blast Email: the firm's templates, and each blast sent with one of them.

A blast is one message per recipient, from the sender's mailbox: each recipient's
message is a Blast Email interaction, sent by a resend of it, so that the resend
pipeline's guarantees (sent once, Sent Items checked after a doubtful send) hold
for every one of them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from interactions.db import Base
from interactions.models._types import UTCDateTime, utcnow


class BlastTemplate(Base):
    """A subject and a body with merge fields (``{{contact.first_name}}``...)."""

    __tablename__ = "blast_template"
    __table_args__ = (UniqueConstraint("firm_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: The body is HTML markup; otherwise plain text, its lines kept.
    is_html: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Blast(Base):
    """One sending of a template to a selection of contacts."""

    __tablename__ = "blast"
    __table_args__ = (
        # A double click on Send carries the same request key: one blast.
        UniqueConstraint("firm_id", "sender_id", "request_key"),
        Index("ix_blast_firm_created", "firm_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    #: Who sent it; every message goes from their mailbox.
    sender_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("blast_template.id", ondelete="SET NULL")
    )
    #: The template's subject and body as they were sent, merge fields and all.
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    is_html: Mapped[bool] = mapped_column(default=False)
    #: The plan or client whose contacts were chosen; neither when chosen by hand.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    request_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    recipients: Mapped[list[BlastRecipient]] = relationship(
        cascade="all, delete-orphan", order_by="BlastRecipient.id"
    )


class BlastRecipient(Base):
    """A contact a blast went to: its interaction, and the resend sending it."""

    __tablename__ = "blast_recipient"
    __table_args__ = (UniqueConstraint("blast_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    blast_id: Mapped[int] = mapped_column(ForeignKey("blast.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(320))
    #: The plan its message named and its interaction is linked to, if any.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interaction.id", ondelete="SET NULL")
    )
    #: The latest resend of its interaction: the first send, or the last retry.
    resend_id: Mapped[int | None] = mapped_column(
        ForeignKey("resend.id", ondelete="SET NULL")
    )
