"""Validation of the access tokens our API receives from the add-in and the admin page.

A token is accepted only when it is signed by a key of its tenant's JWKS, issued by
a tenant that is registered as a firm, meant for our API, current, and carries our
scope. The caller is then known by (tenant id, object id), never by name or email.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from interactions.config import Settings
from interactions.errors import Unauthenticated
from interactions.microsoft.http import TIMEOUT

log = logging.getLogger(__name__)

#: A JWKS is fetched again after this many seconds, or sooner for an unknown key id.
JWKS_MAX_AGE_SECONDS = 3600
#: Unknown key ids trigger at most one fetch per tenant in this many seconds.
JWKS_REFETCH_SECONDS = 30


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    object_id: str
    name: str
    username: str
    #: When the token stops being accepted (POSIX seconds, its leeway included).
    valid_until: float


class TokenValidator:
    def __init__(
        self,
        settings: Settings,
        session: requests.Session,
        is_registered_tenant: Callable[[str], bool],
    ) -> None:
        self._settings = settings
        self._session = session
        self._is_registered_tenant = is_registered_tenant
        self._jwks: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def validate(self, token: str) -> Caller:
        """The caller a token identifies; raise Unauthenticated for any flaw."""
        try:
            # Header and claims in one reading; the signature is checked below.
            decoded = jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise Unauthenticated("The access token is malformed.") from error

        header, unverified = decoded["header"], decoded["payload"]

        if header.get("alg") != "RS256":
            raise Unauthenticated("The access token is not signed with RS256.")

        tenant_id = unverified.get("tid")
        if not isinstance(tenant_id, str):
            raise Unauthenticated("The access token's tenant is not registered.")

        claims = self._verify(token, tenant_id, header.get("kid"))
        scopes = str(claims.get("scp", "")).split()
        if self._settings.api_scope_name not in scopes:
            raise Unauthenticated(
                f"The access token lacks the {self._settings.api_scope_name} scope."
            )

        return Caller(
            tenant_id=tenant_id,
            object_id=claims["oid"],
            name=claims.get("name", ""),
            username=claims.get("preferred_username", ""),
            valid_until=float(claims["exp"]) + self._settings.token_leeway_seconds,
        )

    def _verify(self, token: str, tenant_id: str, kid: Any) -> dict[str, Any]:
        key = self._signing_key(tenant_id, kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=list(self._settings.api_audiences),
                issuer=self._settings.issuer(tenant_id),
                leeway=self._settings.token_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "oid", "tid"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("The access token has expired.") from error
        except jwt.InvalidAudienceError as error:
            raise Unauthenticated(
                "The access token is not meant for this API."
            ) from error
        except jwt.InvalidIssuerError as error:
            raise Unauthenticated(
                "The access token was not issued by its tenant."
            ) from error
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"The access token is not valid: {error}.") from error

        return claims

    def _signing_key(self, tenant_id: str, kid: Any) -> Any:
        if not isinstance(kid, str):
            raise Unauthenticated("The access token names no signing key.")

        with self._lock:
            fetched_at, keys = self._jwks.get(tenant_id, (0.0, {}))
            age = time.monotonic() - fetched_at
            stale = age > JWKS_MAX_AGE_SECONDS
            if stale or (kid not in keys and age >= JWKS_REFETCH_SECONDS):
                # Only a registered tenant's keys are fetched. While they are at
                # hand the check is not repeated: the caller's firm is looked up
                # by tenant after every validation anyway.
                if not self._is_registered_tenant(tenant_id):
                    raise Unauthenticated(
                        "The access token's tenant is not registered."
                    )
                keys = self._fetch_jwks(tenant_id)
                self._jwks[tenant_id] = (time.monotonic(), keys)

        if kid not in keys:
            raise Unauthenticated("The access token is signed with an unknown key.")

        return keys[kid]

    def _fetch_jwks(self, tenant_id: str) -> dict[str, Any]:
        url = f"{self._settings.authority(tenant_id)}/discovery/v2.0/keys"
        try:
            response = self._session.get(url, timeout=TIMEOUT)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            log.error(
                "Fetching the signing keys of tenant %s failed: %s", tenant_id, error
            )
            raise Unauthenticated(
                "The identity provider cannot be reached to check the token; "
                "try again in a moment."
            ) from error

        return {
            jwk["kid"]: jwt.PyJWK(jwk, "RS256").key
            for jwk in document.get("keys", [])
            if jwk.get("kty") == "RSA" and "kid" in jwk
        }
