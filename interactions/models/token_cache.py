"""Each user's MSAL token cache, as the API leaves it and the workers use it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from interactions.db import Base
from interactions.models._types import UTCDateTime, utcnow


class UserTokenCache(Base):
    """One user's serialized MSAL cache, only ever stored encrypted.

    The ciphertext names its owner inside (see interactions.microsoft.tokens), so a
    row copied onto another user is refused rather than used.
    """

    __tablename__ = "user_token_cache"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id"), index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
