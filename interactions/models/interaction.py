"""The interaction, the records it links to and its participants."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from interactions.db import Base
from interactions.models._types import UTCDateTime, str_enum, utcnow
from interactions.models.interaction_type import InteractionType


class Source(enum.StrEnum):
    MANUAL = "manual"
    OUTLOOK_ADDIN = "outlook_addin"
    FILE_IMPORT = "file_import"
    BLAST_EMAIL = "blast_email"
    SECURE_FILE_EXCHANGE = "secure_file_exchange"


class RecordType(enum.StrEnum):
    """Every kind of record that has an Interactions tab."""

    CLIENT = "client"
    PLAN = "plan"
    PROJECT = "project"
    CONTACT = "contact"
    OPPORTUNITY = "opportunity"
    PROPOSAL = "proposal"
    PROSPECT = "prospect"


#: The records an interaction can link to. Clients and projects are not among them.
LINKABLE = frozenset(
    {
        RecordType.PLAN,
        RecordType.CONTACT,
        RecordType.OPPORTUNITY,
        RecordType.PROPOSAL,
        RecordType.PROSPECT,
    }
)

#: The records that belong to the SalesPitch add-on.
SALESPITCH = frozenset(
    {RecordType.OPPORTUNITY, RecordType.PROPOSAL, RecordType.PROSPECT}
)


class Interaction(Base):
    __tablename__ = "interaction"
    __table_args__ = (
        # One interaction per message and firm: the deduplication key of captures.
        UniqueConstraint("firm_id", "internet_message_id"),
        Index("ix_interaction_firm_occurred", "firm_id", "occurred_at"),
        Index("ix_interaction_conversation", "firm_id", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    type_id: Mapped[int] = mapped_column(ForeignKey("interaction_type.id"))
    title: Mapped[str] = mapped_column(String(500))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int | None]
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[Source] = mapped_column(str_enum(Source), default=Source.MANUAL)
    internet_message_id: Mapped[str | None] = mapped_column(String(998))
    conversation_id: Mapped[str | None] = mapped_column(String(500))
    #: The body_hash of the message it was stored from (see NormalizedMessage), to
    #: tell a second capture of the same message id with another body; None for
    #: interactions typed in by hand or stored before it was kept.
    body_hash: Mapped[str | None] = mapped_column(String(64))
    #: Name, content type and size of each attachment the message had; never content.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    type: Mapped[InteractionType] = relationship(lazy="joined")
    links: Mapped[list[Link]] = relationship(
        cascade="all, delete-orphan", order_by="Link.id", back_populates="interaction"
    )
    participants: Mapped[list[Participant]] = relationship(
        cascade="all, delete-orphan", order_by="Participant.id"
    )

    @property
    def is_editable(self) -> bool:
        return not self.type.is_system


class Link(Base):
    """An interaction shown on a record's Interactions tab.

    ``occurred_at`` repeats the interaction's, so that a record's grid is one range
    scan of the index below, newest first, with no join before the page is cut.
    """

    __tablename__ = "interaction_link"
    __table_args__ = (
        UniqueConstraint("interaction_id", "record_type", "record_id"),
        Index(
            "ix_interaction_link_grid",
            "firm_id",
            "record_type",
            "record_id",
            "occurred_at",
            "interaction_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interaction.id", ondelete="CASCADE")
    )
    record_type: Mapped[RecordType] = mapped_column(str_enum(RecordType, 16))
    record_id: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    interaction: Mapped[Interaction] = relationship(back_populates="links")


class Participant(Base):
    """A contact, an employee or a bare address, in one of the type's roles."""

    __tablename__ = "participant"
    __table_args__ = (
        CheckConstraint(
            "contact_id IS NOT NULL OR user_id IS NOT NULL OR address IS NOT NULL",
            name="someone",
        ),
        Index("ix_participant_interaction", "interaction_id"),
        Index("ix_participant_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    interaction_id: Mapped[int] = mapped_column(
        ForeignKey("interaction.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(100))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    address: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(300), default="")
