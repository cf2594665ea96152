"""Make or revoke the integration key a firm's own system calls the API with.

``python -m interactions.keys make "Acme Pensions" "File exchange"`` prints a new
key, once; ``python -m interactions.keys revoke "Acme Pensions" "File exchange"``
revokes every key of that name. The file exchange sends its key as
``Authorization: Bearer ixk_...`` to ``POST /api/v1/file-exchanges``.
"""

from __future__ import annotations

import argparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.config import load_settings
from interactions.db import make_engine
from interactions.models import Firm
from interactions.services import integrations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interactions.keys")
    parser.add_argument("action", choices=["make", "revoke"])
    parser.add_argument("firm", help="the firm's name")
    parser.add_argument("name", help="what the key is for, e.g. File exchange")
    arguments = parser.parse_args(argv)

    engine = make_engine(load_settings().database_url)
    with Session(engine) as session, session.begin():
        firm_id = session.scalar(select(Firm.id).where(Firm.name == arguments.firm))
        if firm_id is None:
            parser.error(f"No firm is called {arguments.firm!r}.")
        if arguments.action == "make":
            print(integrations.make_key(session, firm_id, arguments.name))
        else:
            count = integrations.revoke_key(session, firm_id, arguments.name)
            print(f"Revoked {count} key(s).")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
