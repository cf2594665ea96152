"""CSRF protection for the admin page: a per-session token on every state change.

The JSON API takes bearer tokens, which a browser never sends on its own, so only the
page blueprints are guarded, and those API operations the page's own scripts call
with the session (``verify_csrf_header``). A form carries the token in a hidden
field, a script in the X-CSRF-Token header.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, request, session

from interactions.errors import DomainError

#: The blueprints whose forms and scripts change state with the session cookie.
GUARDED_BLUEPRINTS = frozenset(
    {"pages", "signin", "editing", "maintenance", "resending", "security", "blasts"}
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SESSION_KEY = "csrf"


class CsrfRefused(DomainError):
    status = 400
    code = "csrf_refused"


def csrf_token() -> str:
    """The session's token, made on first use."""
    token: str | None = session.get(_SESSION_KEY)
    if token is None:
        token = session[_SESSION_KEY] = secrets.token_urlsafe(32)

    return token


def renew_csrf_token() -> None:
    """A new token, as at sign-in, so that one seen before it is worthless."""
    session[_SESSION_KEY] = secrets.token_urlsafe(32)


def register(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def check_csrf() -> None:
        if (
            request.method in SAFE_METHODS
            or request.blueprint not in GUARDED_BLUEPRINTS
        ):
            return

        _verify(request.form.get("csrf_token") or request.headers.get("X-CSRF-Token"))


def verify_csrf_header() -> None:
    """A script's call with the session cookie must carry the session's token, on
    reads as well: what it reads is the firm's, not another site's to ask for."""
    _verify(request.headers.get("X-CSRF-Token"))


def _verify(sent: str | None) -> None:
    expected = session.get(_SESSION_KEY)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfRefused(
            "This form has expired or did not come from this site; reload the "
            "page and try again."
        )
