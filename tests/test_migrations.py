"""The migrations build exactly the schema the models describe, on this database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from interactions.db import Base


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_the_grid_index_leads_with_the_record(engine: Engine) -> None:
    indexes = {
        index["name"]: index["column_names"]
        for index in inspect(engine).get_indexes("interaction_link")
    }

    assert indexes["ix_interaction_link_grid"] == [
        "firm_id",
        "record_type",
        "record_id",
        "occurred_at",
        "interaction_id",
    ]
