"""One error shape for everything the API answers: {"error": {code, message, field}}."""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from interactions.errors import DomainError, TemporarilyUnavailable, TooManyRequests
from web.page import message_page

log = logging.getLogger(__name__)


#: What answers in JSON; everything else is a page for a person.
JSON_BLUEPRINTS = frozenset({"api", "health", "addin"})


def _is_json() -> bool:
    return request.blueprint in JSON_BLUEPRINTS or request.path.startswith("/api/")


def error_response(
    status: int, code: str, message: str, field: str | None = None
) -> tuple[Response, int]:
    if not _is_json():
        page, _ = message_page(_TITLES.get(status, "Sorry"), message, status)
        return Response(page, mimetype="text/html"), status

    detail: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field

    response = jsonify(error=detail)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'

    return response, status


def _too_large() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return "The request is too large."

    megabytes = limit // (1024 * 1024)
    return f"The request is larger than {megabytes} MB, the most the API takes."


_TITLES = {
    400: "That did not work",
    401: "Sign in first",
    403: "Not allowed",
    404: "Not found",
    429: "Slow down",
    500: "Something went wrong",
}


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> tuple[Response, int]:
        if error.status in (401, 403):
            log.info("refused %s %s: %s", request.method, request.path, error.message)
        response, status = error_response(
            error.status, error.code, error.message, error.field
        )
        if isinstance(error, TemporarilyUnavailable | TooManyRequests):
            wait = error.retry_after if error.retry_after is not None else 5
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response, status

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> tuple[Response, int]:
        # The database restarted or is out of reach: the pool drops its dead
        # connections, and the caller may send the same request again shortly.
        log.warning(
            "the database did not answer %s %s: %s",
            request.method,
            request.path,
            error.orig,
        )
        return domain_error(
            TemporarilyUnavailable(
                "The database did not answer; try again in a moment.", retry_after=2
            )
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        messages = {
            404: "There is nothing at this address.",
            405: f"{request.method} is not allowed here.",
            413: _too_large(),
        }
        return error_response(
            status, code, messages.get(status, error.description or "")
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500, "internal_error", "Something went wrong on our side; try again."
        )
