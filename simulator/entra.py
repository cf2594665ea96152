"""Microsoft Entra ID as the product meets it: discovery, JWKS, sign-in and tokens.

Real MSAL code talks to these routes unchanged. The grants are those the product
uses: the password grant (scripts and tests), on-behalf-of (the API trading a pane's
token for a Graph token), refresh (workers acquiring tokens silently) and the
authorization code with PKCE (the web admin page signing people in, through a sign-in
page that lists the demo users).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from interactions.config import DEMO_CLIENT_SECRET
from simulator.directory import Directory, DirectoryUser
from simulator.keys import KeyRing

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_SCOPES = frozenset({"Mail.Read", "Mail.ReadWrite", "Mail.Send", "User.Read"})
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
TOKEN_LIFETIME_SECONDS = 3600
#: How long a user may take to pick who signs in, and an app to redeem the code.
SIGN_IN_LIFETIME_SECONDS = 900
CODE_LIFETIME_SECONDS = 300
#: Authorities that sign in people of any tenant, rather than of one directory.
MULTI_TENANT_AUTHORITIES = frozenset({"organizations", "common"})
#: Hosts to which plain http is good enough for a redirect, as Entra allows.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

blueprint = Blueprint("entra", __name__, template_folder="templates")


@dataclass
class Grant:
    user: DirectoryUser
    audience: str
    scopes: tuple[str, ...]
    #: Issued to a confidential client (on-behalf-of): redeeming its refresh token
    #: needs the client secret too.
    confidential: bool = False


@dataclass
class SignInRequest:
    """What an app asked /authorize for, kept while the user picks who signs in."""

    tenant: str
    client_id: str
    redirect_uri: str
    response_mode: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str
    expires_at: float = field(
        default_factory=lambda: time.time() + SIGN_IN_LIFETIME_SECONDS
    )


@dataclass
class AuthorizationCode:
    """A code handed to the app through the browser, for the token endpoint."""

    request: SignInRequest
    user: DirectoryUser
    expires_at: float = field(
        default_factory=lambda: time.time() + CODE_LIFETIME_SECONDS
    )


class _Expiring(Protocol):
    expires_at: float


_E = TypeVar("_E", bound=_Expiring)


def _keep(entries: dict[str, _E], entry: _E) -> str:
    """Store a short-lived entry under a fresh random key, dropping the expired ones.

    Dropping them here keeps an often-visited simulator from growing without end.
    """
    now = time.time()
    for key, stale in list(entries.items()):
        if stale.expires_at <= now:
            entries.pop(key, None)

    key = secrets.token_urlsafe(32)
    entries[key] = entry
    return key


def _take(entries: dict[str, _E], key: str) -> _E | None:
    """Remove and return an entry, if it is still current: each is good for one use."""
    entry = entries.pop(key, None)
    if entry is None or entry.expires_at <= time.time():
        return None

    return entry


@dataclass
class Entra:
    """The state of the simulated identity provider."""

    directory: Directory
    base_url: str
    client_id: str
    keys: KeyRing = field(default_factory=KeyRing)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    #: Sign-in pages shown and not yet answered, by the id their form carries.
    sign_ins: dict[str, SignInRequest] = field(default_factory=dict)
    authorization_codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    #: How often each route was called, for tests that count round trips.
    calls: Counter[str] = field(default_factory=Counter)
    #: The API's client secret, which confidential grants must present.
    client_secret: str = field(default=DEMO_CLIENT_SECRET, repr=False)

    def revoke_refresh_tokens(self, object_id: str) -> int:
        """Revoke a user's refresh tokens, as an admin or a password change does."""
        revoked = [
            token
            for token, grant in self.refresh_tokens.items()
            if grant.user.object_id == object_id
        ]
        for token in revoked:
            del self.refresh_tokens[token]

        return len(revoked)

    def issuer(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0"

    def access_token(self, grant: Grant, **overrides: Any) -> str:
        now = int(time.time())
        user = grant.user
        claims = {
            "iss": self.issuer(user.tenant.tenant_id),
            "aud": grant.audience,
            "tid": user.tenant.tenant_id,
            "oid": user.object_id,
            "sub": user.object_id,
            "name": user.name,
            "preferred_username": user.email,
            "scp": " ".join(grant.scopes),
            "azp": self.client_id,
            "ver": "2.0",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
        }
        return self.keys.sign(claims | overrides)

    def token_response(self, grant: Grant, nonce: str | None = None) -> dict[str, Any]:
        """The token endpoint's answer; ``nonce`` echoes the sign-in request's."""
        refresh_token = secrets.token_urlsafe(32)
        self.refresh_tokens[refresh_token] = grant
        user = grant.user
        client_info = json.dumps(
            {"uid": user.object_id, "utid": user.tenant.tenant_id}
        ).encode()
        echoed = {} if nonce is None else {"nonce": nonce}
        id_token = self.access_token(grant, aud=self.client_id, scp=None, **echoed)

        return {
            "token_type": "Bearer",
            "scope": " ".join(grant.scopes),
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS,
            "access_token": self.access_token(grant),
            "refresh_token": refresh_token,
            "id_token": id_token,
            "client_info": base64.urlsafe_b64encode(client_info).decode().rstrip("="),
        }

    def resource_of(self, scope: str) -> tuple[str, tuple[str, ...]] | None:
        """The audience and scope names asked for, or None for a scope we don't know."""
        asked = [name for name in scope.split() if name not in OIDC_SCOPES]
        api_prefix = f"api://{self.client_id}/"
        if asked and all(name.startswith(api_prefix) for name in asked):
            return self.client_id, tuple(
                name.removeprefix(api_prefix) for name in asked
            )

        graph_names = tuple(name.removeprefix(GRAPH_AUDIENCE + "/") for name in asked)
        if asked and all(name in GRAPH_SCOPES for name in graph_names):
            return GRAPH_AUDIENCE, graph_names

        return None

    def users_of(self, tenant: str) -> list[DirectoryUser]:
        """Who may sign in at an authority: a directory's users, or everyone's."""
        return [
            user
            for user in self.directory.users
            if tenant in MULTI_TENANT_AUTHORITIES or user.tenant.tenant_id == tenant
        ]


@blueprint.before_request
def count_call() -> None:
    _entra().calls[request.endpoint or ""] += 1


def _entra() -> Entra:
    entra: Entra = current_app.extensions["entra"]
    return entra


def _error(status: int, error: str, description: str) -> tuple[Response, int]:
    return jsonify(error=error, error_description=description, error_codes=[]), status


@blueprint.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant: str) -> Response:
    base = f"{_entra().base_url}/{tenant}"
    # As Entra does, a multi-tenant authority names its issuer with a placeholder:
    # each token's issuer names the user's own tenant.
    issuer_tenant = "{tenantid}" if tenant in MULTI_TENANT_AUTHORITIES else tenant
    return jsonify(
        issuer=_entra().issuer(issuer_tenant),
        authorization_endpoint=f"{base}/oauth2/v2.0/authorize",
        token_endpoint=f"{base}/oauth2/v2.0/token",
        end_session_endpoint=f"{base}/oauth2/v2.0/logout",
        jwks_uri=f"{base}/discovery/v2.0/keys",
        response_modes_supported=["query", "form_post"],
        response_types_supported=["code", "id_token", "token"],
        subject_types_supported=["pairwise"],
        id_token_signing_alg_values_supported=["RS256"],
        tenant_region_scope="NA",
    )


@blueprint.get("/<tenant>/discovery/v2.0/keys")
def keys(tenant: str) -> Response:
    return jsonify(_entra().keys.jwks())


@blueprint.get("/common/userrealm/<path:username>")
def user_realm(username: str) -> tuple[Response, int]:
    # Not federated: MSAL goes on to the plain password grant on a 404.
    return _error(404, "not_found", "No realm information.")


@blueprint.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str) -> Response | tuple[Response, int]:
    entra = _entra()
    form = request.form
    if form.get("client_id") != entra.client_id:
        return _error(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application '{form.get('client_id')}' was not found.",
        )

    secret = _client_secret()
    if secret is not None and not secrets.compare_digest(secret, entra.client_secret):
        return _error(
            401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
        )

    grant_type = form.get("grant_type", "")
    if grant_type == "password":
        return _password_grant(entra, tenant)

    if grant_type == "refresh_token":
        return _refresh_grant(entra)

    if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return _on_behalf_of_grant(entra)

    if grant_type == "authorization_code":
        return _authorization_code_grant(entra)

    return _error(
        400, "unsupported_grant_type", f"Grant {grant_type!r} is not supported."
    )


def _client_secret() -> str | None:
    """The secret a client authenticated with: in the form, or as HTTP Basic."""
    if "client_secret" in request.form:
        return request.form["client_secret"]

    authorization = request.authorization
    if authorization is not None and authorization.type == "basic":
        return authorization.password

    return None


def _missing_secret() -> tuple[Response, int]:
    return _error(
        401,
        "invalid_client",
        "AADSTS7000218: The request body must contain the following parameter: "
        "'client_assertion' or 'client_secret'.",
    )


def _password_grant(entra: Entra, tenant: str) -> Response | tuple[Response, int]:
    user = entra.directory.find(tenant, request.form.get("username", ""))
    if user is None or not secrets.compare_digest(
        user.password, request.form.get("password", "")
    ):
        return _error(
            400, "invalid_grant", "AADSTS50126: Invalid username or password."
        )

    resource = entra.resource_of(request.form.get("scope", ""))
    if resource is None:
        return _error(400, "invalid_scope", "AADSTS70011: The scope is not valid.")

    return jsonify(entra.token_response(Grant(user, *resource)))


def _refresh_grant(entra: Entra) -> Response | tuple[Response, int]:
    grant = entra.refresh_tokens.get(request.form.get("refresh_token", ""))
    if grant is None:
        return _error(
            400, "invalid_grant", "AADSTS700082: The refresh token has expired."
        )

    if grant.confidential and _client_secret() is None:
        return _missing_secret()

    return jsonify(entra.token_response(grant))


def _on_behalf_of_grant(entra: Entra) -> Response | tuple[Response, int]:
    # Only a confidential client (the API, with its secret) may act for a user.
    if _client_secret() is None:
        return _missing_secret()

    assertion = request.form.get("assertion", "")
    try:
        tenant_id = jwt.decode(assertion, options={"verify_signature": False})["tid"]
        claims = entra.keys.verify(assertion, entra.client_id, entra.issuer(tenant_id))
    except (jwt.PyJWTError, KeyError, StopIteration):
        return _error(400, "invalid_grant", "AADSTS50013: Assertion is not valid.")

    user = entra.directory.by_object_id(claims["oid"])
    resource = entra.resource_of(request.form.get("scope", ""))
    if user is None or resource is None:
        return _error(400, "invalid_grant", "AADSTS65001: The user has not consented.")

    return jsonify(entra.token_response(Grant(user, *resource, confidential=True)))


def _authorization_code_grant(entra: Entra) -> Response | tuple[Response, int]:
    # The code came through the browser: only the app, with its secret, may redeem it.
    if _client_secret() is None:
        return _missing_secret()

    form = request.form
    code = _take(entra.authorization_codes, form.get("code", ""))
    if code is None:
        return _error(
            400,
            "invalid_grant",
            "AADSTS70008: The provided authorization code has expired or was already "
            "redeemed. Send a new interactive authorization request for this user.",
        )

    asked = code.request
    if form.get("client_id") != asked.client_id:
        return _error(
            400,
            "invalid_grant",
            "AADSTS70000: The authorization code was issued to another application.",
        )

    if form.get("redirect_uri") != asked.redirect_uri:
        return _error(
            400,
            "invalid_grant",
            f"AADSTS50011: The redirect URI '{form.get('redirect_uri')}' does not "
            "match the one the authorization code was issued for.",
        )

    if not secrets.compare_digest(
        _pkce_challenge(form.get("code_verifier", "")), asked.code_challenge
    ):
        return _error(
            400,
            "invalid_grant",
            "AADSTS501481: The Code_Verifier does not match the code_challenge "
            "supplied in the authorization request.",
        )

    audience, scopes = _sign_in_resource(entra, asked.scope) or (entra.client_id, ())
    grant = Grant(code.user, audience, scopes, confidential=True)
    return jsonify(entra.token_response(grant, nonce=asked.nonce))


def _pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256: base64url of the verifier's SHA-256, without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _sign_in_resource(entra: Entra, scope: str) -> tuple[str, tuple[str, ...]] | None:
    """What a sign-in's tokens are for: asking only to sign in gets the app itself."""
    if set(scope.split()) <= OIDC_SCOPES:
        return entra.client_id, ()

    return entra.resource_of(scope)


@blueprint.get("/<tenant>/oauth2/v2.0/authorize")
def authorize(tenant: str) -> Response:
    """The sign-in page, once the request is known to come back to a safe place.

    Until the client and its redirect URI are checked, a refusal is a page of our
    own: sending the browser to an unchecked address would make us an open redirect.
    """
    entra = _entra()
    query = request.args
    client_id = query.get("client_id", "")
    redirect_uri = query.get("redirect_uri", "")
    if client_id != entra.client_id:
        return _error_page(
            f"AADSTS700016: Application with identifier '{client_id}' was not found "
            "in the directory."
        )

    if not _acceptable_return_uri(redirect_uri):
        return _error_page(
            f"AADSTS50011: The redirect URI '{redirect_uri}' specified in the request "
            "is not valid: it must use https, or http on localhost."
        )

    users = entra.users_of(tenant)
    if not users:
        return _error_page(f"AADSTS90002: Tenant '{tenant}' not found.")

    pending = SignInRequest(
        tenant=tenant,
        client_id=client_id,
        redirect_uri=redirect_uri,
        response_mode=query.get("response_mode", "query"),
        scope=query.get("scope", ""),
        state=query.get("state"),
        nonce=query.get("nonce"),
        code_challenge=query.get("code_challenge", ""),
    )
    refusal = _refusal(entra, pending, query)
    if refusal is not None:
        return _send_back(pending, refusal)

    hint = query.get("login_hint", "").lower()
    return _page(
        "entra/sign_in.html",
        action=request.path,
        request_id=_keep(entra.sign_ins, pending),
        users=sorted(users, key=lambda user: user.email.lower() != hint),
        app_host=urlsplit(redirect_uri).netloc,
    )


def _refusal(
    entra: Entra, pending: SignInRequest, query: Mapping[str, str]
) -> dict[str, str] | None:
    """Why a sign-in request is refused, as the error parameters to send back."""
    if query.get("response_type") != "code":
        return _oauth_error(
            "unsupported_response_type",
            "Only response_type 'code' is supported.",
        )

    if pending.response_mode not in ("query", "form_post"):
        return _oauth_error(
            "invalid_request",
            f"response_mode '{query.get('response_mode')}' is not supported; use "
            "'query' or 'form_post'.",
        )

    if not pending.code_challenge:
        return _oauth_error(
            "invalid_request",
            "AADSTS9002325: Proof Key for Code Exchange is required: the request "
            "must carry a code_challenge.",
        )

    if query.get("code_challenge_method") != "S256":
        return _oauth_error(
            "invalid_request",
            "The code_challenge_method must be 'S256'.",
        )

    if _sign_in_resource(entra, pending.scope) is None:
        return _oauth_error(
            "invalid_scope", f"AADSTS70011: The scope '{pending.scope}' is not valid."
        )

    return None


@blueprint.post("/<tenant>/oauth2/v2.0/authorize")
def sign_in_as(tenant: str) -> Response:
    """The user picked on the sign-in page: a code for the app, or a refusal."""
    entra = _entra()
    pending = _take(entra.sign_ins, request.form.get("request_id", ""))
    if pending is None:
        return _error_page(
            "This sign-in request was not found or has expired. Go back to the "
            "application and sign in again."
        )

    if "cancel" in request.form:
        return _send_back(
            pending,
            _oauth_error(
                "access_denied",
                "AADSTS65004: The user declined to consent to access the app.",
            ),
        )

    object_id = request.form.get("object_id", "")
    users = entra.users_of(pending.tenant)
    user = next((u for u in users if u.object_id == object_id), None)
    if user is None:
        return _error_page(
            "AADSTS50034: The user account does not exist in this directory."
        )

    code = _keep(entra.authorization_codes, AuthorizationCode(pending, user))
    return _send_back(pending, {"code": code})


@blueprint.get("/<tenant>/oauth2/v2.0/logout")
def logout(tenant: str) -> Response:
    """Signed out; the way back is offered only to an address Entra would accept."""
    return_to = request.args.get("post_logout_redirect_uri", "")
    return _page(
        "entra/signed_out.html",
        return_to=return_to if _acceptable_return_uri(return_to) else None,
    )


def _acceptable_return_uri(uri: str) -> bool:
    """Whether the simulator may send a browser to ``uri``.

    Entra sends browsers only to an app's registered redirect URIs. The simulator
    has no registrations, so it holds any address to the rule for registering one:
    https, or http on this machine, and no fragment.
    """
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return False

    if not host or parts.fragment:
        return False

    return parts.scheme == "https" or (
        parts.scheme == "http" and host in LOOPBACK_HOSTS
    )


def _oauth_error(error: str, description: str) -> dict[str, str]:
    return {"error": error, "error_description": description}


def _send_back(pending: SignInRequest, params: dict[str, str]) -> Response:
    """Answer the app at its redirect URI, in the response mode it asked for.

    Any mode but form_post answers in the query, so that even a refusal of the mode
    itself reaches the app.
    """
    if pending.state is not None:
        params = params | {"state": pending.state}

    if pending.response_mode == "form_post":
        return _page("entra/form_post.html", action=pending.redirect_uri, params=params)

    return Response(
        status=302, headers={"Location": _with_query(pending.redirect_uri, params)}
    )


def _with_query(uri: str, params: dict[str, str]) -> str:
    """``uri`` with ``params`` added to whatever query it already has."""
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _page(template: str, status: int = 200, **context: Any) -> Response:
    """An HTML page of ours; never cached, never framed (it signs people in)."""
    response = Response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _error_page(message: str) -> Response:
    return _page("entra/error.html", 400, message=message)


@blueprint.get("/demo/users")
def demo_users() -> Response:
    """What a script needs to sign in as each demo user."""
    entra = _entra()
    return jsonify(
        users=[
            {
                "firm": user.tenant.firm_name,
                "tier": user.tenant.tier,
                "has_salespitch": user.tenant.has_salespitch,
                "tenant_id": user.tenant.tenant_id,
                "object_id": user.object_id,
                "email": user.email,
                "name": user.name,
                "password": user.password,
                "rights": list(user.rights),
                "authority": f"{entra.base_url}/{user.tenant.tenant_id}",
                "client_id": entra.client_id,
                "scope": f"api://{entra.client_id}/access_as_user",
            }
            for user in entra.directory.users
        ]
    )
