"""What a request reaches through Flask: the runtime, its session and its actor."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from interactions.config import Settings
from interactions.db import will_write
from interactions.errors import Unauthenticated
from interactions.microsoft.identity import TokenValidator
from interactions.rate_limits import RateLimits
from interactions.services.access import Actor
from web.actors import ActorCache

#: Where the app keeps its callers' actors (see web.actors).
ACTORS = "interactions.actors"
#: Where the app keeps the API's budgets per user and firm.
RATE_LIMITS = "interactions.rate_limits"


@dataclass(frozen=True)
class Runtime:
    """The long-lived parts the app factory composes once."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    validator: TokenValidator


def runtime() -> Runtime:
    value: Runtime = current_app.extensions["interactions"]
    return value


def actor_cache() -> ActorCache:
    value: ActorCache = current_app.extensions[ACTORS]
    return value


def rate_limits() -> RateLimits:
    value: RateLimits = current_app.extensions[RATE_LIMITS]
    return value


def db() -> Session:
    """The request's session; the request commits it once, at its end."""
    if "db" not in g:
        g.db = runtime().sessions()
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            will_write(g.db)

    session: Session = g.db
    return session


def close_db(error: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()


def actor() -> Actor:
    value: Actor | None = g.get("actor")
    if value is None:
        raise Unauthenticated("Sign in to use the API.")

    return value
