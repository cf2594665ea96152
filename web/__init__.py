"""The web app factory: the one place that composes the product's faces."""

from __future__ import annotations

from flask import Flask

import addin
from interactions.config import Settings, load_settings
from interactions.db import make_engine, make_session_factory
from interactions.microsoft.http import make_session
from interactions.microsoft.identity import TokenValidator
from interactions.queue import CeleryQueue
from interactions.services.access import is_registered_tenant
from web import api, errors, health
from web.context import Runtime, close_db

#: Room for a captured email with a long HTML body; each part checks its own limit.
MAX_REQUEST_BYTES = 32 * 1024 * 1024


def build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine, CeleryQueue(settings.broker_url))

    def registered(tenant_id: str) -> bool:
        with sessions() as session:
            return is_registered_tenant(session, tenant_id)

    validator = TokenValidator(settings, make_session(settings), registered)
    return Runtime(settings, engine, sessions, validator)


def create_app(runtime: Runtime | None = None) -> Flask:
    """The app; on its own it reads its settings from the environment."""
    runtime = runtime or build_runtime(load_settings())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["interactions"] = runtime
    app.teardown_appcontext(close_db)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(addin.blueprint)
    errors.register(app)

    return app
