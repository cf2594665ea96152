"""The tenant, its employees and their security rights."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from interactions.db import Base
from interactions.models._types import UTCDateTime, str_enum, utcnow


class Tier(enum.StrEnum):
    TRACK = "Track"
    TEAM = "Team"
    PREMIUM = "Premium"
    BUSINESS = "Business"


#: The tiers that include Interactions.
INTERACTION_TIERS = frozenset({Tier.TEAM, Tier.PREMIUM, Tier.BUSINESS})


class Right(enum.StrEnum):
    ADD_EDIT_INTERACTION = "Add/Edit Interaction"
    DELETE_INTERACTION = "Delete Interaction"
    MAINTAIN_LIST_VALUES = "Maintain List Values"
    ADMINISTER_USERS = "Administer Users"
    DELETE_CONTACT = "Delete Contact"


class Firm(Base):
    __tablename__ = "firm"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[Tier] = mapped_column(str_enum(Tier))
    has_salespitch: Mapped[bool] = mapped_column(default=False)
    #: The Microsoft Entra tenant whose tokens identify this firm's users.
    entra_tenant_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def has_interactions(self) -> bool:
        return self.tier in INTERACTION_TIERS


user_security_group = Table(
    "user_security_group",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "security_group_id",
        ForeignKey("security_group.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class SecurityGroup(Base):
    __tablename__ = "security_group"
    __table_args__ = (UniqueConstraint("firm_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    rights: Mapped[list[SecurityGroupRight]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class SecurityGroupRight(Base):
    __tablename__ = "security_group_right"

    security_group_id: Mapped[int] = mapped_column(
        ForeignKey("security_group.id", ondelete="CASCADE"), primary_key=True
    )
    right: Mapped[Right] = mapped_column(str_enum(Right), primary_key=True)


class User(Base):
    """An employee of a firm, known by the object id of their Entra account."""

    __tablename__ = "user"
    __table_args__ = (UniqueConstraint("firm_id", "entra_object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"), index=True)
    entra_object_id: Mapped[str] = mapped_column(String(36))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    #: When Entra ID last refused a token for their mailbox: until they sign in
    #: again, nothing can be sent from it, and the page says so.
    mailbox_consent_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    firm: Mapped[Firm] = relationship(lazy="joined")
    security_groups: Mapped[list[SecurityGroup]] = relationship(
        secondary=user_security_group, lazy="selectin"
    )

    @property
    def rights(self) -> frozenset[Right]:
        return frozenset(
            grant.right for group in self.security_groups for grant in group.rights
        )
