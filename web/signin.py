"""Signing in to the admin page with MSAL's authorization-code flow (PKCE), and out.

The flow's state, nonce and PKCE verifier wait in the session cookie (signed,
HttpOnly) between the redirect to Entra ID and the callback. Once the ID token is
checked, the session keeps only who signed in; each page reads their rights afresh.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any
from urllib.parse import urlencode, urlsplit

import msal
import requests
from flask import Blueprint, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from interactions.db import will_write
from interactions.errors import Unauthenticated
from interactions.microsoft.tokens import (
    GRAPH_SCOPES,
    SIGN_IN_AUTHORITY,
    keep_sign_in_tokens,
    sign_in_application,
)
from interactions.services.access import actor_for
from web.context import db, runtime
from web.csrf import renew_csrf_token
from web.page import message_page

log = logging.getLogger(__name__)

blueprint = Blueprint("signin", __name__)

_FLOW = "auth_flow"
_NEXT = "after_sign_in"
USER = "user"


@blueprint.get("/sign-in")
def sign_in() -> BaseResponse | tuple[str, int]:
    """Send the browser to Entra ID to sign in."""
    try:
        with warnings.catch_warnings():
            # MSAL recommends form_post; the query keeps the session cookie
            # SameSite=Lax (a cross-site POST would need None), and the code it
            # carries is single-use and bound to the PKCE verifier.
            warnings.filterwarnings("ignore", "response_mode='form_post'")
            flow = sign_in_application(runtime().settings).initiate_auth_code_flow(
                list(GRAPH_SCOPES),
                redirect_uri=url_for("signin.callback", _external=True),
                prompt="select_account",
            )
    except (requests.RequestException, ValueError) as error:
        log.warning("starting a sign-in failed: %s", error)
        return _unavailable()

    session[_FLOW] = flow
    session[_NEXT] = local_path(request.args.get("next"))
    return redirect(flow["auth_uri"])


@blueprint.get("/auth/callback")
def callback() -> BaseResponse | tuple[str, int]:
    """Entra ID sends the browser back here with a code, or with why not.

    A GET that writes: a sign-in keeps the person's Graph tokens.
    """
    will_write(db())
    flow: dict[str, Any] | None = session.pop(_FLOW, None)
    if flow is None:
        return _sign_in_again("This sign-in expired or began in another window.")

    if request.args.get("error") == "access_denied":
        return _sign_in_again("You cancelled signing in.")

    cache = msal.SerializableTokenCache()
    try:
        result = sign_in_application(
            runtime().settings, cache
        ).acquire_token_by_auth_code_flow(flow, request.args.to_dict())
    except ValueError:
        # MSAL's answer to a state that is not the flow's: a forged or replayed
        # callback.
        return _sign_in_again("This sign-in did not begin here.")
    except requests.RequestException as error:
        log.warning("finishing a sign-in failed: %s", error)
        return _unavailable()

    if "error" in result:
        log.info("sign-in refused by Entra ID: %s", result.get("error"))
        return _sign_in_again(
            result.get("error_description") or "Microsoft did not sign you in."
        )

    return _signed_in(result["id_token_claims"], cache, session.pop(_NEXT, None))


def _signed_in(
    claims: dict[str, Any], cache: msal.SerializableTokenCache, after: str | None
) -> BaseResponse | tuple[str, int]:
    try:
        actor = actor_for(db(), claims["tid"], claims["oid"])
    except Unauthenticated as refused:
        return message_page("Not set up in Interactions", refused.message, 403)

    # The Graph tokens the sign-in brought: resends go from this person's mailbox.
    keep_sign_in_tokens(db(), runtime().settings, actor.user_id, cache, claims)
    db().commit()

    session.clear()
    session.permanent = True
    session[USER] = {
        "tenant_id": claims["tid"],
        "object_id": claims["oid"],
        "name": actor.name,
    }
    renew_csrf_token()
    log.info("user %s signed in to the admin page", actor.user_id)
    return redirect(after or url_for("pages.home"))


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    """Forget the session here, then at Entra ID."""
    session.clear()
    query = urlencode(
        {"post_logout_redirect_uri": url_for("signin.signed_out", _external=True)}
    )
    authority = runtime().settings.authority(SIGN_IN_AUTHORITY)
    return redirect(f"{authority}/oauth2/v2.0/logout?{query}")


@blueprint.get("/signed-out")
def signed_out() -> tuple[str, int]:
    return message_page(
        "Signed out",
        "You are signed out of Interactions.",
        200,
        action=("Sign in again", url_for("signin.sign_in")),
    )


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path of this site: no link may send one elsewhere."""
    if not target:
        return None

    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or "\\" in target:
        return None

    return target


def _sign_in_again(reason: str) -> tuple[str, int]:
    return message_page(
        "Not signed in",
        reason,
        400,
        action=("Sign in", url_for("signin.sign_in")),
    )


def _unavailable() -> tuple[str, int]:
    return message_page(
        "Sign-in is unavailable",
        "Microsoft sign-in cannot be reached just now; try again in a moment.",
        503,
        action=("Try again", url_for("signin.sign_in")),
    )
