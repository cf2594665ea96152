"""The users' Graph tokens: on-behalf-of into an encrypted cache, silent acquisition,
refresh, key rotation, and the refusals that only signing in again can clear."""

from __future__ import annotations

import dataclasses
import json
import socket
import stat
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy.orm import Session

from interactions.config import DEMO_CLIENT_ID, ConfigError, Settings, load_settings
from interactions.errors import TemporarilyUnavailable
from interactions.microsoft.tokens import (
    KEY_FILE_NAME,
    ConsentRequired,
    IdentityMisconfigured,
    IdentityUnavailable,
    exchange_on_behalf_of,
    graph_token,
    rotate_keys,
)
from interactions.models import UserTokenCache
from simulator.graph import Graph
from tests.conftest import USERS, RunningSimulator, TokenSource, World

pytestmark = pytest.mark.security

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    """The test settings with a token cache key the test knows."""
    return dataclasses.replace(settings, token_cache_keys=(OLD_KEY,))


@pytest.fixture
def simulated_graph(running_simulator: RunningSimulator) -> Iterator[Graph]:
    """The simulator's Graph state; the faults a test adds end with it."""
    state: Graph = running_simulator.app.extensions["graph"]
    yield state
    state.faults.clear()


def obo(
    db: Session, settings: Settings, world: World, tokens: TokenSource, handle: str
) -> int:
    """Exchange the user's API token on their behalf; the user's id."""
    user = world.users[handle]
    exchange_on_behalf_of(
        db, settings, user.id, USERS[handle].tenant.tenant_id, tokens(handle)
    )
    return user.id


def token_calls(simulator: RunningSimulator) -> int:
    return simulator.entra.calls["entra.token"]


def envelope(db: Session, user_id: int, key: str = OLD_KEY) -> dict[str, Any]:
    row = db.get(UserTokenCache, user_id)
    assert row is not None
    opened: dict[str, Any] = json.loads(Fernet(key).decrypt(row.ciphertext))
    return opened


def age_access_tokens(db: Session, user_id: int) -> None:
    """Make the cached access tokens look expired, as an hour later."""
    opened = envelope(db, user_id)
    cache = json.loads(opened["cache"])
    for entry in cache["AccessToken"].values():
        entry["expires_on"] = str(int(time.time()) - 60)
    opened["cache"] = json.dumps(cache)
    row = db.get(UserTokenCache, user_id)
    assert row is not None
    row.ciphertext = Fernet(OLD_KEY).encrypt(json.dumps(opened).encode())
    db.flush()


# -- on behalf of, and the stored cache ------------------------------------------------


def test_on_behalf_of_stores_the_cache_encrypted(
    db: Session, keyed: Settings, world: World, tokens: TokenSource
) -> None:
    user_id = obo(db, keyed, world, tokens, "admin")
    access_token = graph_token(db, keyed, user_id)
    row = db.get(UserTokenCache, user_id)

    assert row is not None
    assert row.firm_id == world.users["admin"].firm_id
    assert row.ciphertext.startswith(b"gAAAAA")  # a Fernet token
    for plaintext in (access_token, "AccessToken", "RefreshToken", "secret"):
        assert plaintext.encode() not in row.ciphertext
    assert envelope(db, user_id)["user_id"] == user_id


def test_the_graph_token_is_for_the_users_mailbox(
    db: Session, keyed: Settings, world: World, tokens: TokenSource
) -> None:
    user_id = obo(db, keyed, world, tokens, "editor")
    claims = jwt.decode(
        graph_token(db, keyed, user_id), options={"verify_signature": False}
    )

    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["oid"] == USERS["editor"].object_id
    assert set(claims["scp"].split()) == {"Mail.Read", "Mail.Send"}


def test_silent_acquisition_serves_from_the_cache(
    db: Session,
    keyed: Settings,
    world: World,
    tokens: TokenSource,
    running_simulator: RunningSimulator,
) -> None:
    user_id = obo(db, keyed, world, tokens, "admin")
    ciphertext = envelope(db, user_id)
    calls = token_calls(running_simulator)

    first = graph_token(db, keyed, user_id)
    second = graph_token(db, keyed, user_id)

    assert first == second
    assert token_calls(running_simulator) == calls
    assert envelope(db, user_id) == ciphertext  # nothing changed, nothing written


def test_an_expired_access_token_is_refreshed_and_kept(
    db: Session,
    keyed: Settings,
    world: World,
    tokens: TokenSource,
    running_simulator: RunningSimulator,
) -> None:
    user_id = obo(db, keyed, world, tokens, "admin")
    age_access_tokens(db, user_id)
    calls = token_calls(running_simulator)

    refreshed = graph_token(db, keyed, user_id)
    again = graph_token(db, keyed, user_id)

    assert again == refreshed
    assert token_calls(running_simulator) == calls + 1  # one refresh, then cached
    cache = json.loads(envelope(db, user_id)["cache"])
    assert all(
        int(entry["expires_on"]) > time.time() + 600
        for entry in cache["AccessToken"].values()
    )


def test_on_behalf_of_with_another_users_token_is_refused(
    db: Session, keyed: Settings, world: World, tokens: TokenSource
) -> None:
    editor = world.users["editor"]

    with pytest.raises(ConsentRequired):
        exchange_on_behalf_of(
            db, keyed, editor.id, USERS["editor"].tenant.tenant_id, tokens("admin")
        )

    assert db.get(UserTokenCache, editor.id) is None


# -- keys ------------------------------------------------------------------------------


def test_rotation_keeps_caches_readable_and_reencrypts_them(
    db: Session,
    keyed: Settings,
    world: World,
    tokens: TokenSource,
    running_simulator: RunningSimulator,
) -> None:
    user_id = obo(db, keyed, world, tokens, "admin")
    token = graph_token(db, keyed, user_id)
    rotated = dataclasses.replace(keyed, token_cache_keys=(NEW_KEY, OLD_KEY))
    only_new = dataclasses.replace(keyed, token_cache_keys=(NEW_KEY,))

    assert graph_token(db, rotated, user_id) == token  # the old key still opens it
    assert rotate_keys(db, rotated) >= 1
    assert graph_token(db, only_new, user_id) == token
    with pytest.raises(ConsentRequired):
        graph_token(db, keyed, user_id)  # the old key alone no longer does


def test_rotation_leaves_a_cache_no_key_opens(
    db: Session, keyed: Settings, world: World, tokens: TokenSource
) -> None:
    user_id = obo(db, keyed, world, tokens, "admin")
    row = db.get(UserTokenCache, user_id)
    assert row is not None
    foreign = MultiFernet([Fernet(Fernet.generate_key())]).encrypt(b"{}")
    row.ciphertext = foreign

    rotate_keys(db, dataclasses.replace(keyed, token_cache_keys=(NEW_KEY, OLD_KEY)))

    assert row.ciphertext == foreign


def test_the_embedded_run_keeps_its_key_in_the_instance_folder(
    db: Session, settings: Settings, world: World, tokens: TokenSource
) -> None:
    user_id = obo(db, settings, world, tokens, "reader")
    key_file = settings.instance_path / KEY_FILE_NAME

    assert graph_token(db, settings, user_id)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip())  # a valid key


# -- refusals --------------------------------------------------------------------------


def test_a_cache_copied_onto_another_user_is_refused(
    db: Session, keyed: Settings, world: World, tokens: TokenSource
) -> None:
    admin_id = obo(db, keyed, world, tokens, "admin")
    editor_id = obo(db, keyed, world, tokens, "editor")
    admin_row = db.get(UserTokenCache, admin_id)
    editor_row = db.get(UserTokenCache, editor_id)
    assert admin_row is not None and editor_row is not None
    editor_row.ciphertext = admin_row.ciphertext
    db.flush()

    with pytest.raises(ConsentRequired):
        graph_token(db, keyed, editor_id)


def test_without_a_cache_the_user_must_sign_in(
    db: Session, keyed: Settings, world: World
) -> None:
    with pytest.raises(ConsentRequired) as refused:
        graph_token(db, keyed, world.users["deleter"].id)

    assert refused.value.message == (
        "Sign in to Interactions again so it can read your mailbox."
    )
    assert refused.value.status == 403


def test_a_revoked_refresh_token_requires_consent(
    db: Session,
    keyed: Settings,
    world: World,
    tokens: TokenSource,
    running_simulator: RunningSimulator,
) -> None:
    user_id = obo(db, keyed, world, tokens, "editor")
    running_simulator.entra.revoke_refresh_tokens(USERS["editor"].object_id)

    with pytest.raises(ConsentRequired):
        graph_token(db, keyed, user_id, force_refresh=True)


def test_an_entra_outage_is_transient_and_passes(
    db: Session,
    keyed: Settings,
    world: World,
    tokens: TokenSource,
    simulated_graph: Graph,
) -> None:
    user_id = obo(db, keyed, world, tokens, "admin")
    # Retry-After: 0, or MSAL would answer the next refresh from its throttling
    # cache (5 s by default) without asking Entra again.
    simulated_graph.faults.add(
        method="POST", path_contains="/oauth2/v2.0/token", status=503, retry_after=0
    )

    with pytest.raises(IdentityUnavailable) as unavailable:
        graph_token(db, keyed, user_id, force_refresh=True)

    assert isinstance(unavailable.value, TemporarilyUnavailable)
    assert graph_token(db, keyed, user_id, force_refresh=True)


def test_an_unreachable_entra_is_transient(
    db: Session, keyed: Settings, world: World, tokens: TokenSource
) -> None:
    user_id = obo(db, keyed, world, tokens, "admin")
    nowhere = dataclasses.replace(
        keyed, authority_host=f"https://127.0.0.1:{unused_port()}"
    )

    with pytest.raises(IdentityUnavailable):
        graph_token(db, nowhere, user_id)


def test_a_wrong_client_secret_is_a_misconfiguration(
    db: Session, keyed: Settings, world: World, tokens: TokenSource
) -> None:
    wrong = dataclasses.replace(keyed, client_secret="not-the-secret")

    with pytest.raises(IdentityMisconfigured):
        obo(db, wrong, world, tokens, "admin")


def test_on_behalf_of_needs_the_client_secret(
    running_simulator: RunningSimulator, tokens: TokenSource, keyed: Settings
) -> None:
    tenant_id = USERS["admin"].tenant.tenant_id
    session = requests.Session()
    session.trust_env = False
    response = session.post(
        f"{running_simulator.url}/{tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": DEMO_CLIENT_ID,
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "requested_token_use": "on_behalf_of",
            "assertion": tokens("admin"),
            "scope": "https://graph.microsoft.com/Mail.Read",
        },
        verify=keyed.microsoft_ca_bundle,
        timeout=10,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# -- settings --------------------------------------------------------------------------


def test_token_cache_keys_are_read_newest_first() -> None:
    settings = load_settings({"TOKEN_CACHE_KEYS": f" {NEW_KEY} , {OLD_KEY} "})

    assert settings.token_cache_keys == (NEW_KEY, OLD_KEY)
    assert NEW_KEY not in repr(settings)


def test_a_malformed_key_is_named_but_not_shown() -> None:
    with pytest.raises(ConfigError, match="TOKEN_CACHE_KEYS") as refused:
        load_settings({"TOKEN_CACHE_KEYS": f"{NEW_KEY},not-a-key"})

    assert "not-a-key" not in str(refused.value)


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({"TOKEN_CACHE_KEYS": NEW_KEY}, "API_CLIENT_SECRET"),
        ({"API_CLIENT_SECRET": "registration-secret"}, "TOKEN_CACHE_KEYS"),
        (
            {"API_CLIENT_SECRET": "registration-secret", "TOKEN_CACHE_KEYS": NEW_KEY},
            "SECRET_KEY",
        ),
    ],
)
def test_a_real_entra_needs_a_secret_and_keys(
    environ: dict[str, str], missing: str
) -> None:
    environ = environ | {"ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.com"}

    with pytest.raises(ConfigError, match=missing):
        load_settings(environ)


# -- helpers ---------------------------------------------------------------------------


def unused_port() -> int:
    """A local port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]

    return port
