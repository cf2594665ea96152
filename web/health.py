"""Liveness and readiness, outside the API and its tokens."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from interactions.broker import BrokerUnavailable, check_broker
from web.context import runtime

log = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The process can serve: its database and its broker answer."""
    checks = {"database": "ok", "broker": "ok"}
    try:
        with runtime().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("readiness: database unavailable: %s", error)
        checks["database"] = "unavailable"

    try:
        check_broker(runtime().settings.broker_url)
    except BrokerUnavailable as error:
        log.warning("readiness: broker unavailable: %s", error)
        checks["broker"] = "unavailable"

    ready = all(state == "ok" for state in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), (
        200 if ready else 503
    )
