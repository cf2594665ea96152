"""The JSON API under /api/v1: Bearer tokens only, one error shape."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request

from interactions.errors import Unauthenticated
from interactions.services.access import actor_for
from web.actors import Identified
from web.api.openapi import Api
from web.context import actor_cache, db, runtime

PREFIX = "/api/v1"

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)
api = Api(blueprint, title="Interactions API", version="1")


@blueprint.before_request
def authenticate() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "public", False):
        return

    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")

    g.token = token.strip()
    g.caller, g.actor = actor_cache().identify(g.token, lambda: identify(g.token))


def identify(token: str) -> Identified:
    caller = runtime().validator.validate(token)
    return caller, actor_for(db(), caller.tenant_id, caller.object_id)


# The views register their operations on import.
from web.api import (  # noqa: E402, F401
    captures,
    contacts,
    interaction_types,
    interactions,
    me,
    spec,
)
