"""Microsoft Entra ID as the product meets it: discovery, JWKS and the token endpoint.

Real MSAL code talks to these routes unchanged. The grants are those the product
uses: the password grant (scripts and tests), on-behalf-of (the API trading a pane's
token for a Graph token) and refresh (workers acquiring tokens silently).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jwt
from flask import Blueprint, Response, current_app, jsonify, request

from interactions.config import DEMO_CLIENT_SECRET
from simulator.directory import Directory, DirectoryUser
from simulator.keys import KeyRing

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_SCOPES = frozenset({"Mail.Read", "Mail.ReadWrite", "Mail.Send", "User.Read"})
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
TOKEN_LIFETIME_SECONDS = 3600

blueprint = Blueprint("entra", __name__)


@dataclass
class Grant:
    user: DirectoryUser
    audience: str
    scopes: tuple[str, ...]
    #: Issued to a confidential client (on-behalf-of): redeeming its refresh token
    #: needs the client secret too.
    confidential: bool = False


@dataclass
class Entra:
    """The state of the simulated identity provider."""

    directory: Directory
    base_url: str
    client_id: str
    keys: KeyRing = field(default_factory=KeyRing)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
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

    def token_response(self, grant: Grant) -> dict[str, Any]:
        refresh_token = secrets.token_urlsafe(32)
        self.refresh_tokens[refresh_token] = grant
        user = grant.user
        client_info = json.dumps(
            {"uid": user.object_id, "utid": user.tenant.tenant_id}
        ).encode()
        id_token = self.access_token(grant, aud=self.client_id, scp=None)

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
    return jsonify(
        issuer=_entra().issuer(tenant),
        authorization_endpoint=f"{base}/oauth2/v2.0/authorize",
        token_endpoint=f"{base}/oauth2/v2.0/token",
        jwks_uri=f"{base}/discovery/v2.0/keys",
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
