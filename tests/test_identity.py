"""Only tokens that Entra (here, the simulator) issued for our API, to a registered
tenant's user, with our scope, and still current, get through."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from interactions.config import DEMO_CLIENT_ID
from interactions.microsoft import identity
from simulator.entra import Grant
from tests.conftest import USERS, ApiClient, RunningSimulator
from web.actors import ActorCache
from web.context import ACTORS

pytestmark = pytest.mark.security


def forged(simulator: RunningSimulator, handle: str = "admin", **overrides: Any) -> str:
    """A token signed by the simulator's real key, with some claims changed."""
    grant = Grant(USERS[handle], DEMO_CLIENT_ID, ("access_as_user",))
    return simulator.entra.access_token(grant, **overrides)


def test_a_token_from_the_simulator_gets_in(api: ApiClient) -> None:
    response = api.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json["user"]["email"] == "admin@acme.test"
    assert response.json["rights"] == sorted(USERS["admin"].rights)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "api://someone-else"}, "not meant for this API"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid"),
        ({"scp": "User.Read"}, "lacks the access_as_user scope"),
        (
            {"iss": "https://login.microsoftonline.com/evil/v2.0"},
            "not issued by its tenant",
        ),
        ({"tid": str(uuid.uuid4())}, "tenant is not registered"),
        ({"oid": str(uuid.uuid4())}, "not set up in Interactions"),
    ],
)
def test_flawed_tokens_are_refused(
    api: ApiClient,
    running_simulator: RunningSimulator,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    response = api.get("/api/v1/me", token=forged(running_simulator, **overrides))

    assert response.status_code == 401
    assert reason in response.json["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_signature_from_another_tenant_is_refused(
    api: ApiClient, running_simulator: RunningSimulator
) -> None:
    stranger = str(uuid.uuid4())
    token = forged(
        running_simulator,
        tid=stranger,
        iss=f"{running_simulator.url}/{stranger}/v2.0",
    )

    response = api.get("/api/v1/me", token=token)

    assert response.status_code == 401
    assert "tenant is not registered" in response.json["error"]["message"]


def test_a_token_signed_by_an_unknown_key_is_refused(
    api: ApiClient, running_simulator: RunningSimulator
) -> None:
    claims = jwt.decode(forged(running_simulator), options={"verify_signature": False})
    key = rsa.generate_private_key(65537, 2048)
    token = jwt.encode(claims, key, "RS256", headers={"kid": "someone-elses-key"})

    response = api.get("/api/v1/me", token=token)

    assert response.status_code == 401
    assert "unknown key" in response.json["error"]["message"]


@pytest.mark.parametrize("algorithm", ["none", "HS256"])
def test_unsigned_and_symmetric_tokens_are_refused(
    api: ApiClient, running_simulator: RunningSimulator, algorithm: str
) -> None:
    claims = jwt.decode(forged(running_simulator), options={"verify_signature": False})
    token = jwt.encode(
        claims,
        None if algorithm == "none" else "a-shared-secret-of-32-bytes!!!!!",
        algorithm,
    )

    response = api.get("/api/v1/me", token=token)

    assert response.status_code == 401
    assert "RS256" in response.json["error"]["message"]


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt"]
)
def test_a_missing_or_malformed_header_is_refused(api: ApiClient, header: str) -> None:
    response = api.client.get("/api/v1/me", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"


def test_tokens_still_work_after_the_keys_rotate(
    app: Flask,
    api: ApiClient,
    running_simulator: RunningSimulator,
    monkeypatch: Any,
) -> None:
    # Entra publishes a new key before signing with it; here it signs at once, so
    # let the validator look again without waiting out its refetch interval. The
    # API forgets each token at once, so that the old one is checked again.
    monkeypatch.setattr(identity, "JWKS_REFETCH_SECONDS", 0)
    app.extensions[ACTORS] = ActorCache(0)
    before = forged(running_simulator)
    assert api.get("/api/v1/me", token=before).status_code == 200
    running_simulator.entra.keys.rotate()
    after = forged(running_simulator)

    assert api.get("/api/v1/me", token=after).status_code == 200
    assert api.get("/api/v1/me", token=before).status_code == 200


def test_unknown_key_ids_do_not_make_the_api_hammer_the_jwks(
    api: ApiClient, running_simulator: RunningSimulator
) -> None:
    key = rsa.generate_private_key(65537, 2048)
    claims = jwt.decode(forged(running_simulator), options={"verify_signature": False})
    api.get("/api/v1/me", token=forged(running_simulator))
    fetches = running_simulator.jwks_fetches

    for attempt in range(5):
        token = jwt.encode(claims, key, "RS256", headers={"kid": f"random-{attempt}"})
        assert api.get("/api/v1/me", token=token).status_code == 401

    assert running_simulator.jwks_fetches == fetches


def test_a_refused_token_writes_nothing(
    api: ApiClient, running_simulator: RunningSimulator, db: Any
) -> None:
    from sqlalchemy import func, select

    from interactions.models import AuditEvent, Interaction

    token = forged(running_simulator, exp=int(time.time()) - 3600)
    response = api.call(
        "POST", "/api/v1/interactions", json={"type_id": 1, "title": "x"}, token=token
    )

    assert response.status_code == 401
    assert db.scalar(select(func.count()).select_from(Interaction)) == 0
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == 0
