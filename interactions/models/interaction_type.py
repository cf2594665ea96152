"""Interaction types: Maintenance > List Values > Interaction."""

from __future__ import annotations

import enum

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from interactions.db import Base
from interactions.models._types import str_enum


class BaseName(enum.StrEnum):
    """The fixed kinds every firm's types are built on."""

    EMAIL = "Email"
    PHONE_CALL = "Phone Call"
    APPOINTMENT = "Appointment"
    MEETING = "Meeting"
    BLAST_EMAIL = "Blast Email"
    SECURE_FILE_EXCHANGE = "Secure File Exchange"


#: Base names of interactions only the system creates, and nobody edits.
SYSTEM_BASE_NAMES = frozenset({BaseName.BLAST_EMAIL, BaseName.SECURE_FILE_EXCHANGE})


class InteractionType(Base):
    __tablename__ = "interaction_type"
    __table_args__ = (UniqueConstraint("firm_id", "display_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"), index=True)
    base_name: Mapped[BaseName] = mapped_column(str_enum(BaseName))
    display_name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    #: The participant roles the slider offers, in order.
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)

    @property
    def is_system(self) -> bool:
        return self.base_name in SYSTEM_BASE_NAMES
