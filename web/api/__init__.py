"""The JSON API under /api/v1: Bearer tokens, one error shape.

The few operations the admin page's scripts use (search-as-you-type, file import)
also take the page's session, with its CSRF token in the X-CSRF-Token header.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request, session

from interactions.errors import Unauthenticated
from interactions.rate_limits import Budget
from interactions.services import integrations
from interactions.services.access import actor_for
from web.actors import Identified
from web.api.openapi import Api, Operation
from web.context import actor_cache, db, rate_limits, runtime
from web.csrf import verify_csrf_header
from web.signin import USER

PREFIX = "/api/v1"

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)
api = Api(blueprint, title="Interactions API", version="1")


@blueprint.before_request
def authenticate() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    operation: Operation | None = getattr(view, "operation", None)
    if operation is None or operation.public:
        return

    authorization = request.headers.get("Authorization")
    signed_in = session.get(USER)
    if authorization is None and signed_in and operation.browser:
        verify_csrf_header()
        g.actor = actor_for(db(), signed_in["tenant_id"], signed_in["object_id"])
        _take_budgets(operation, g.actor.firm_id, g.actor.user_id)
        return

    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")

    if operation.integration:
        # The firm's own systems, with their key; never a person's token.
        g.integration_firm = integrations.firm_of_key(db(), token.strip())
        _take_budgets(operation, g.integration_firm.id, None)
        return
    if integrations.is_integration_key(token.strip()):
        raise Unauthenticated("An integration key only reports file exchanges.")

    g.token = token.strip()
    g.caller, g.actor = actor_cache().identify(g.token, lambda: identify(g.token))
    _take_budgets(operation, g.actor.firm_id, g.actor.user_id)


def _take_budgets(operation: Operation, firm_id: int, user_id: int | None) -> None:
    """Count the call against the caller's budgets, before it reads or stores."""
    rate_limits().take(firm_id, user_id, Budget.CALLS, *operation.budgets)


def identify(token: str) -> Identified:
    caller = runtime().validator.validate(token)
    return caller, actor_for(db(), caller.tenant_id, caller.object_id)


# The views register their operations on import.
from web.api import (  # noqa: E402, F401
    blasts,
    captures,
    contacts,
    file_exchanges,
    imports,
    interaction_types,
    interactions,
    me,
    resends,
    spec,
)
