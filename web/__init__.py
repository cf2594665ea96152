"""The web app factory: the one place that composes the product's faces."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

import addin
from interactions import logs
from interactions.config import Settings, load_settings
from interactions.db import MAX_ID, make_engine, make_session_factory
from interactions.limiter import limiter_for
from interactions.microsoft.http import make_session
from interactions.microsoft.identity import TokenValidator
from interactions.queue import CeleryQueue
from interactions.rate_limits import RateLimits
from interactions.services.access import is_registered_tenant
from web import (
    api,
    blasts,
    csrf,
    editing,
    errors,
    health,
    maintenance,
    metrics,
    page,
    pages,
    resending,
    security,
    signin,
)
from web.actors import ActorCache
from web.context import ACTORS, RATE_LIMITS, Runtime, close_db

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
    if runtime is None:
        # A process of its own (gunicorn): its logs are the app's to shape.
        runtime = build_runtime(load_settings())
        logs.configure(runtime.settings.log_format)
    app = Flask(__name__)
    app.request_class = _Request
    _trust_proxies(app, runtime.settings.trusted_proxy_hops)
    # Ids in paths are the database's: past its range, no record has them.
    app.url_map.converters["int"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    # An imported email's draft travels in the slider's form.
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES
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
    app.extensions[RATE_LIMITS] = RateLimits.of(
        runtime.settings, limiter_for(runtime.settings.broker_url)
    )
    app.teardown_appcontext(close_db)
    _follow_requests(app)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(addin.blueprint)
    app.register_blueprint(signin.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(editing.blueprint)
    app.register_blueprint(maintenance.blueprint)
    app.register_blueprint(resending.blueprint)
    app.register_blueprint(blasts.blueprint)
    app.register_blueprint(security.blueprint)
    csrf.register(app)
    page.register(app)
    errors.register(app)

    return app


def _trust_proxies(app: Flask, hops: int) -> None:
    """Behind a TLS-terminating proxy, the caller's scheme and address are the ones
    the proxy saw: generated URLs are https and logs name the caller, not the proxy.

    Only the last ``hops`` entries of X-Forwarded-For and X-Forwarded-Proto count,
    those the proxies wrote; what the caller put before them is ignored. The Host
    header is the caller's, which the proxy passes on unchanged.
    """
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0
        )


class _Request(Request):
    """Query and form fields without NUL characters, which no text column holds."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        return _without_nul(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        if "form" in self.__dict__:
            self.__dict__["form"] = _without_nul(self.__dict__["form"])


def _without_nul(fields: MultiDict[str, str]) -> ImmutableMultiDict[str, str]:
    return ImmutableMultiDict(
        [(name, value.replace("\x00", "")) for name, value in fields.items(multi=True)]
    )


class IdConverter(IntegerConverter):
    """``<int:...>`` in a route: an id the database can hold, else no match (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _follow_requests(app: Flask) -> None:
    """Each request's id on its log lines, and on its answer as X-Request-Id."""

    @app.before_request
    def take_request_id() -> None:
        logs.request_id.set(logs.request_id_from(request.headers.get("X-Request-Id")))

    @app.after_request
    def give_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = logs.request_id.get()
        return response


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
