"""The web app factory: the one place that composes the product's faces."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

import addin
from interactions.config import Settings, load_settings
from interactions.db import make_engine, make_session_factory
from interactions.microsoft.http import make_session
from interactions.microsoft.identity import TokenValidator
from interactions.queue import CeleryQueue
from interactions.services.access import is_registered_tenant
from web import (
    api,
    csrf,
    editing,
    errors,
    health,
    maintenance,
    page,
    pages,
    signin,
)
from web.actors import ActorCache
from web.context import ACTORS, Runtime, close_db

#: Room for a captured email with a long HTML body; each part checks its own limit.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
#: How long a sign-in to the admin page lasts.
SESSION_LIFETIME = timedelta(hours=8)
SECRET_KEY_FILE_NAME = "secret.key"


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
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key
        or instance_secret_key(runtime.settings.instance_path),
        SESSION_COOKIE_NAME="interactions_session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: the browser comes back from Entra ID's sign-in by a
        # top-level navigation from another site, and must bring the flow along.
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["interactions"] = runtime
    app.extensions[ACTORS] = ActorCache(runtime.settings.actor_cache_seconds)
    app.teardown_appcontext(close_db)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(addin.blueprint)
    app.register_blueprint(signin.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(editing.blueprint)
    app.register_blueprint(maintenance.blueprint)
    csrf.register(app)
    page.register(app)
    errors.register(app)

    return app


def instance_secret_key(instance_path: Path) -> str:
    """The embedded run's session key: generated once, readable by its owner only."""
    path = instance_path / SECRET_KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()

    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key)

    return key
