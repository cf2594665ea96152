"""Contacts, their email addresses and their roles at clients and plans."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from interactions.db import Base


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))

    emails: Mapped[list[ContactEmail]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ContactEmail.id"
    )
    roles: Mapped[list[ContactRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactEmail(Base):
    __tablename__ = "contact_email"
    __table_args__ = (
        UniqueConstraint("contact_id", "address"),
        Index("ix_contact_email_firm_address", "firm_id", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE")
    )
    #: Stored lower-cased, so that matching is exact and uses the index.
    address: Mapped[str] = mapped_column(String(320))


class ContactRole(Base):
    """A contact's role (Trustee, Payroll...) at a client or one of its plans."""

    __tablename__ = "contact_role"
    __table_args__ = (
        CheckConstraint(
            "(client_id IS NULL) <> (plan_id IS NULL)", name="one_of_client_or_plan"
        ),
        Index("ix_contact_role_client", "client_id"),
        Index("ix_contact_role_plan", "plan_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))
    role: Mapped[str] = mapped_column(String(100))
