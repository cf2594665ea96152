"""Alembic's entry: migrate the connection it is handed, or the configured database."""

from alembic import context
from sqlalchemy import Connection

import interactions.models  # noqa: F401  (registers every table)
from interactions.config import load_settings
from interactions.db import Base, make_engine


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(load_settings().database_url)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
