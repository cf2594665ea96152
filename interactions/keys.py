"""The keys an operator handles: integration keys, and the token caches' keys.

``python -m interactions.keys make "Acme Pensions" "File exchange"`` prints a new
integration key, once; ``python -m interactions.keys revoke "Acme Pensions" "File
exchange"`` revokes every key of that name. The file exchange sends its key as
``Authorization: Bearer ixk_...`` to ``POST /api/v1/file-exchanges``.

``python -m interactions.keys rotate-token-caches`` re-encrypts every user's token
cache with the newest of TOKEN_CACHE_KEYS, after a new key was put first.
"""

from __future__ import annotations

import argparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.config import Settings, load_settings
from interactions.db import make_engine
from interactions.microsoft.tokens import rotate_keys
from interactions.models import Firm
from interactions.services import integrations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interactions.keys")
    actions = parser.add_subparsers(dest="action", required=True)
    for action in ("make", "revoke"):
        keyed = actions.add_parser(action, help=f"{action} a firm's integration key")
        keyed.add_argument("firm", help="the firm's name")
        keyed.add_argument("name", help="what the key is for, e.g. File exchange")
    actions.add_parser(
        "rotate-token-caches", help="re-encrypt the token caches with the newest key"
    )
    arguments = parser.parse_args(argv)

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            print(_act(parser, arguments, session, settings))
    finally:
        engine.dispose()
    return 0


def _act(
    parser: argparse.ArgumentParser,
    arguments: argparse.Namespace,
    session: Session,
    settings: Settings,
) -> str:
    """What the action did, in a line."""
    if arguments.action == "rotate-token-caches":
        return f"Re-encrypted {rotate_keys(session, settings)} token cache(s)."

    firm_id = session.scalar(select(Firm.id).where(Firm.name == arguments.firm))
    if firm_id is None:
        parser.error(f"No firm is called {arguments.firm!r}.")
    if arguments.action == "make":
        return integrations.make_key(session, firm_id, arguments.name)
    count = integrations.revoke_key(session, firm_id, arguments.name)
    return f"Revoked {count} key(s)."


if __name__ == "__main__":
    raise SystemExit(main())
