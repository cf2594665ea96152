"""Keys for the firm's own systems, such as its file exchange, to call the API.

A key is ``ixk_`` and 43 random characters; only its SHA-256 is stored, so a key
is shown once, when it is made, and a lost one is replaced, not recovered.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.errors import Invalid, Unauthenticated
from interactions.models import Firm, IntegrationKey
from interactions.models._types import utcnow

PREFIX = "ixk_"
NAME_MAX = 100


def is_integration_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def make_key(session: Session, firm_id: int, name: str) -> str:
    """A new key for the firm, returned this once."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise Invalid(f"Name the key in 1 to {NAME_MAX} characters.", "name")

    key = PREFIX + secrets.token_urlsafe(32)
    session.add(IntegrationKey(firm_id=firm_id, name=name, key_hash=_digest(key)))
    session.flush()
    return key


def revoke_key(session: Session, firm_id: int, name: str) -> int:
    """Revoke the firm's keys of this name; how many were."""
    keys = session.scalars(
        select(IntegrationKey).where(
            IntegrationKey.firm_id == firm_id,
            IntegrationKey.name == name,
            IntegrationKey.revoked_at.is_(None),
        )
    ).all()
    for key in keys:
        key.revoked_at = utcnow()
    session.flush()
    return len(keys)


def firm_of_key(session: Session, key: str) -> Firm:
    """The firm a key belongs to; a revoked or unknown key is refused alike."""
    firm = session.scalar(
        select(Firm)
        .join(IntegrationKey, IntegrationKey.firm_id == Firm.id)
        .where(
            IntegrationKey.key_hash == _digest(key),
            IntegrationKey.revoked_at.is_(None),
        )
    )
    if firm is None:
        raise Unauthenticated("This integration key is not valid, or was revoked.")
    return firm
