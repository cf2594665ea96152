"""The users' delegated Graph tokens: on-behalf-of, encrypted caches, silent refresh.

The API trades the add-in's token for Graph tokens on behalf of the user, once per
capture or resend, and keeps that user's MSAL token cache in ``user_token_cache``,
encrypted with Fernet. Workers later load the cache and acquire a token silently:
from the cache while the access token is fresh, through the refresh token when it
is not. Nothing here ever logs a token.

Keys come from TOKEN_CACHE_KEYS, newest first: the newest encrypts, all of them
decrypt, so a new key is put in front, ``rotate_keys`` re-encrypts every row, and
the old key is dropped afterwards. The embedded run, which sets none, generates one
key into ``instance/token-cache.key`` on first use.

Fernet has no associated data, so the plaintext names its owner (user and firm):
a row copied onto another user decrypts, but is refused.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msal
import requests
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from msal.exceptions import MsalServiceError
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.config import Settings
from interactions.errors import DomainError, Forbidden, TemporarilyUnavailable
from interactions.microsoft.http import TIMEOUT, make_session
from interactions.models import User, UserTokenCache

log = logging.getLogger(__name__)

#: What the workers do in the user's mailbox: read captured mail, send resends.
#: Bare names mean Microsoft Graph to Entra, and are what it answers in ``scope``;
#: MSAL files tokens under the answered scopes and looks them up by the asked ones,
#: so asking with full URIs would never find a cached token.
GRAPH_SCOPES = ("Mail.Read", "Mail.Send")
KEY_FILE_NAME = "token-cache.key"
_ENVELOPE_VERSION = 1

#: Token endpoint errors that only the user can clear, by signing in again.
_CONSENT_ERRORS = frozenset(
    {"invalid_grant", "interaction_required", "consent_required", "login_required"}
)
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class ConsentRequired(Forbidden):
    """No usable token for the user's mailbox until the user signs in again."""

    code = "consent_required"

    def __init__(
        self,
        message: str = "Sign in to Interactions again so it can read your mailbox.",
    ) -> None:
        super().__init__(message)


class IdentityUnavailable(TemporarilyUnavailable):
    """Entra ID did not answer, or answered with a passing failure."""

    code = "identity_unavailable"

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(
            "Microsoft sign-in cannot be reached right now; Interactions will try "
            "again shortly.",
            retry_after,
        )


class IdentityMisconfigured(DomainError):
    """Entra ID refuses the API itself (its secret, its registration)."""

    status = 500
    code = "identity_misconfigured"

    def __init__(self) -> None:
        super().__init__(
            "Interactions is not registered correctly with Microsoft; ask your "
            "administrator to check its client id and secret."
        )


# -- one MSAL application per call, sharing what a process keeps per tenant -----------


class _HttpClient:
    """MSAL's HTTP client: our session, with a timeout on every call."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return self._session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return self._session.post(url, **kwargs)

    def close(self) -> None:
        self._session.close()


class _Tenant:
    """What a process keeps per tenant authority.

    An MSAL application holds one token cache, and each user has their own, so an
    application is made per call. What would make that costly is shared here: the
    HTTP session, and MSAL's HTTP cache, which keeps the authority's discovery
    document for a day. That cache is per thread, because MSAL guards it with a
    lock of each application's own.
    """

    def __init__(self, settings: Settings, tenant_id: str) -> None:
        self._settings = settings
        self._authority = settings.authority(tenant_id)
        self._http_client = _HttpClient(make_session(settings))
        self._local = threading.local()

    def application(
        self, cache: msal.SerializableTokenCache
    ) -> msal.ConfidentialClientApplication:
        if not hasattr(self._local, "http_cache"):
            self._local.http_cache = {}

        return msal.ConfidentialClientApplication(
            self._settings.client_id,
            client_credential=self._settings.client_secret,
            authority=self._authority,
            # The authority is named in the settings: no asking
            # login.microsoftonline.com which authorities exist.
            instance_discovery=False,
            http_client=self._http_client,
            http_cache=self._local.http_cache,
            token_cache=cache,
        )


@functools.cache
def _tenant(settings: Settings, tenant_id: str) -> _Tenant:
    return _Tenant(settings, tenant_id)


#: The authority that signs in people of any work or school tenant.
SIGN_IN_AUTHORITY = "organizations"


def sign_in_application(
    settings: Settings, cache: msal.SerializableTokenCache | None = None
) -> msal.ConfidentialClientApplication:
    """The application that signs people in to the admin page, from any tenant.

    A sign-in also asks for the Graph scopes, so that a resend asked from the page
    can be sent from the person's mailbox: ``keep_sign_in_tokens`` stores them.
    """
    return _tenant(settings, SIGN_IN_AUTHORITY).application(
        cache or msal.SerializableTokenCache()
    )


def _call_entra(action: str, user_id: int, call: Callable[[], Any]) -> Any:
    """Run an MSAL call; a transport failure or a 5xx becomes IdentityUnavailable.

    MSAL raises ValueError when the authority itself is wrong (a tenant Entra does
    not know, a discovery document it cannot read): a misconfiguration.
    """
    try:
        return call()
    except (requests.RequestException, MsalServiceError) as error:
        log.warning("Entra ID failed the %s for user %s: %s", action, user_id, error)
        raise IdentityUnavailable() from error
    except ValueError as error:
        log.error("Entra ID refused the %s for user %s: %s", action, user_id, error)
        raise IdentityMisconfigured() from error


def _refusal(result: dict[str, Any], action: str, user_id: int) -> DomainError:
    error = str(result.get("error", ""))
    codes = result.get("error_codes") or []
    if error in _CONSENT_ERRORS:
        log.info(
            "Entra ID refused the %s for user %s (%s %s): consent is needed",
            action,
            user_id,
            error,
            codes,
        )
        return ConsentRequired()

    if error in _TRANSIENT_ERRORS:
        log.warning(
            "Entra ID failed the %s for user %s (%s %s)", action, user_id, error, codes
        )
        return IdentityUnavailable()

    log.error(
        "Entra ID refused the %s for user %s (%s %s)", action, user_id, error, codes
    )
    return IdentityMisconfigured()


# -- the encrypted cache ---------------------------------------------------------------


@functools.cache
def _cipher(settings: Settings) -> MultiFernet:
    keys = settings.token_cache_keys or (_instance_key(settings.instance_path),)
    return MultiFernet([Fernet(key) for key in keys])


def _instance_key(instance_path: Path) -> str:
    """The embedded run's key: generated once, readable by its owner only."""
    path = instance_path / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(Fernet.generate_key().decode())

    return path.read_text(encoding="ascii").strip()


def _seal(settings: Settings, user: User, cache: msal.SerializableTokenCache) -> bytes:
    envelope = {
        "version": _ENVELOPE_VERSION,
        "user_id": user.id,
        "firm_id": user.firm_id,
        "cache": cache.serialize(),
    }
    return _cipher(settings).encrypt(json.dumps(envelope).encode())


def _unseal(settings: Settings, row: UserTokenCache) -> msal.SerializableTokenCache:
    try:
        envelope = json.loads(_cipher(settings).decrypt(row.ciphertext))
    except InvalidToken:
        log.error(
            "The token cache of user %s opens with none of the configured keys",
            row.user_id,
        )
        raise ConsentRequired() from None

    if (envelope.get("user_id"), envelope.get("firm_id")) != (row.user_id, row.firm_id):
        log.error(
            "The token cache stored for user %s belongs to another user; refused",
            row.user_id,
        )
        raise ConsentRequired()

    cache = msal.SerializableTokenCache()
    cache.deserialize(envelope["cache"])
    return cache


def _store(
    session: Session,
    settings: Settings,
    user: User,
    cache: msal.SerializableTokenCache,
) -> None:
    ciphertext = _seal(settings, user, cache)
    user.mailbox_consent_lost_at = None  # signed in again: the mailbox is usable
    row = session.get(UserTokenCache, user.id)
    if row is None:
        session.add(
            UserTokenCache(user_id=user.id, firm_id=user.firm_id, ciphertext=ciphertext)
        )
    else:
        row.ciphertext = ciphertext
    session.flush()


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ValueError(f"No user {user_id}.")

    return user


# -- what the API and the workers call ------------------------------------------------


def exchange_on_behalf_of(
    session: Session,
    settings: Settings,
    user_id: int,
    firm_tenant_id: str,
    api_token: str,
) -> None:
    """Trade the user's token for our API for Graph tokens, kept in their cache.

    ``api_token`` is the bearer token of the request, already validated as this
    very user's, and ``firm_tenant_id`` the tenant it names; Entra's answer is
    checked against the user's object id all the same. Replaces the user's cache;
    flushes, never commits.
    """
    user = _user(session, user_id)
    tenant_id = user.firm.entra_tenant_id
    if tenant_id != firm_tenant_id:
        raise ValueError(f"User {user_id} is not in tenant {firm_tenant_id}.")

    cache = msal.SerializableTokenCache()
    result = _call_entra(
        "on-behalf-of exchange",
        user_id,
        lambda: (
            _tenant(settings, tenant_id)
            .application(cache)
            .acquire_token_on_behalf_of(api_token, list(GRAPH_SCOPES))
        ),
    )
    if "error" in result:
        raise _refusal(result, "on-behalf-of exchange", user_id)

    if result.get("id_token_claims", {}).get("oid") != user.entra_object_id:
        log.error("An on-behalf-of token for user %s names another user", user_id)
        raise ConsentRequired()

    _store(session, settings, user, cache)
    log.info("Stored the Graph token cache of user %s", user_id)


def keep_sign_in_tokens(
    session: Session,
    settings: Settings,
    user_id: int,
    cache: msal.SerializableTokenCache,
    claims: dict[str, Any],
) -> None:
    """Keep the Graph tokens a sign-in to the admin page brought, as the user's
    cache; ``claims`` are the sign-in's ID token's, already checked by MSAL."""
    user = _user(session, user_id)
    if claims.get("oid") != user.entra_object_id:
        raise ValueError(f"The sign-in's tokens are not user {user_id}'s.")

    _store(session, settings, user, cache)
    log.info("Stored the Graph token cache of user %s from their sign-in", user_id)


def graph_token(
    session: Session, settings: Settings, user_id: int, *, force_refresh: bool = False
) -> str:
    """A Graph access token for the user, from their cache or through a refresh.

    ``force_refresh`` skips the cached access token: for when Graph refused it
    before its time. Raises ConsentRequired when only signing in again can help.
    """
    row = session.get(UserTokenCache, user_id)
    if row is None:
        log.info("User %s has no Graph token cache yet", user_id)
        raise ConsentRequired()

    user = _user(session, user_id)
    tenant_id = user.firm.entra_tenant_id
    cache = _unseal(settings, row)
    application = _call_entra(
        "silent token acquisition",
        user_id,
        lambda: _tenant(settings, tenant_id).application(cache),
    )
    home_account_id = f"{user.entra_object_id}.{tenant_id}"
    account = next(
        (
            account
            for account in application.get_accounts()
            if account.get("home_account_id") == home_account_id
        ),
        None,
    )
    if account is None:
        log.error("The token cache of user %s holds no account of theirs", user_id)
        raise ConsentRequired()

    result = _call_entra(
        "silent token acquisition",
        user_id,
        lambda: application.acquire_token_silent_with_error(
            list(GRAPH_SCOPES), account, force_refresh=force_refresh
        ),
    )
    if not result:
        raise ConsentRequired()  # no refresh token left to try

    if "error" in result:
        raise _refusal(result, "token refresh", user_id)

    if cache.has_state_changed:
        row.ciphertext = _seal(settings, user, cache)
        session.flush()

    token: str = result["access_token"]
    return token


def rotate_keys(session: Session, settings: Settings) -> int:
    """Re-encrypt every token cache with the newest key; how many were rotated.

    A row that no configured key opens is left as it is (its user must sign in
    again anyway), and logged.
    """
    cipher = _cipher(settings)
    rotated = 0
    rows = session.scalars(select(UserTokenCache).order_by(UserTokenCache.user_id))
    for row in rows:
        try:
            row.ciphertext = cipher.rotate(row.ciphertext)
        except InvalidToken:
            log.error(
                "The token cache of user %s opens with none of the configured keys; "
                "not rotated",
                row.user_id,
            )
            continue
        rotated += 1

    session.flush()
    log.info("Re-encrypted %s token caches with the newest key", rotated)
    return rotated
