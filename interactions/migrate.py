"""Bring a database's schema up to date: ``python -m interactions.migrate``."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from interactions.config import PROJECT_ROOT, load_settings
from interactions.db import make_engine


def upgrade(engine: Engine) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


if __name__ == "__main__":
    settings = load_settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(make_engine(settings.database_url))
