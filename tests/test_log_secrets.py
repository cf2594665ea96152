"""Logs hold no token, secret or message body, and the stored token caches hold no
plaintext token.

A capture runs end to end (the pane's token, the API's on-behalf-of, the worker's
Graph read through O365) and its interaction is resent through Graph, with every
logger of the process (ours, urllib3, requests, msal, O365, celery) recording at
DEBUG, in the text and the JSON format. No record may carry a secret.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from interactions import logs
from interactions.config import Settings
from interactions.microsoft.graph import MailGateway
from interactions.models import CaptureStatus, ResendStatus
from interactions.services import resends
from interactions.services.capture_processing import process_capture
from simulator.graph import Graph
from tests.conftest import USERS, ApiClient, TokenSource, World
from tests.test_resend_delivery import Worker
from tests.test_resends import Clock
from web import create_app

pytestmark = pytest.mark.security

KEY = Fernet.generate_key().decode()
BODY = "Confidential census figures: payroll 4,812,305.17 for plan year 2026."
#: The libraries that see tokens on their way, beside ours.
LIBRARIES = ("urllib3", "requests", "msal", "O365", "celery", "kombu", "werkzeug")


@pytest.fixture(params=["text", "json"])
def every_log(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Every record of every logger, at DEBUG, formatted as the process would."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.addFilter(logs.WithIds())
    handler.setFormatter(
        logs.JsonFormatter()
        if request.param == "json"
        else logging.Formatter(logs.TEXT_FORMAT)
    )
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in LIBRARIES)]
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]
    root = logging.getLogger()
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.propagate = logger is not root or logger.propagate
    yield stream
    root.removeHandler(handler)
    for logger, level, propagate in saved:
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    """The test settings with a token cache key the test knows."""
    return dataclasses.replace(settings, token_cache_keys=(KEY,))


@pytest.fixture
def keyed_api(app: Flask, keyed: Settings, tokens: TokenSource) -> ApiClient:
    runtime = dataclasses.replace(app.extensions["interactions"], settings=keyed)
    return ApiClient(create_app(runtime).test_client(), tokens)


def cached_tokens(db: Session, user_id: int) -> dict[str, list[str]]:
    """The access and refresh tokens in the user's cache, decrypted."""
    ciphertext = db.execute(
        text("SELECT ciphertext FROM user_token_cache WHERE user_id = :id"),
        {"id": user_id},
    ).scalar_one()
    envelope: dict[str, Any] = json.loads(Fernet(KEY).decrypt(bytes(ciphertext)))
    cache = json.loads(envelope["cache"])
    return {
        kind: [entry["secret"] for entry in cache.get(kind, {}).values()]
        for kind in ("AccessToken", "RefreshToken")
    }


def capture_and_resend(
    api: ApiClient,
    db: Session,
    keyed: Settings,
    world: World,
    sessions: sessionmaker[Session],
    graph: Graph,
) -> None:
    """Capture a message the pane could not read, then resend its interaction."""
    admin = USERS["admin"]
    mime = (
        "From: Dana Rivera <dana.rivera@northwind.test>\r\nTo: admin@acme.test\r\n"
        "Subject: Census figures\r\nMessage-ID: <secret-census@northwind.test>\r\n"
        f"Date: Mon, 01 Dec 2026 10:00:00 +0000\r\n\r\n{BODY}\r\n"
    ).encode()
    rest_id = graph.add_message(admin.object_id, mime)
    email = db.execute(
        text(
            "SELECT id FROM interaction_type WHERE firm_id = :firm AND "
            "display_name = 'Email'"
        ),
        {"firm": world.firm_ids["Acme Pensions"]},
    ).scalar_one()
    posted = api.post(
        "/api/v1/captures",
        {"item": {"rest_id": rest_id}, "type_id": email, "title": "Census figures"},
    )
    assert posted.status_code == 202, posted.json

    status = process_capture(
        sessions,
        posted.json["id"],
        lambda session, user_id: MailGateway.for_user(session, keyed, user_id),
    )
    assert status is CaptureStatus.STORED
    interaction_id = api.get(f"/api/v1/captures/{posted.json['id']}").json[
        "interaction_id"
    ]
    resend = resends.request_resend(
        db, world.actors["admin"], interaction_id, "log-secrets"
    )
    db.flush()
    worker = Worker(sessions, keyed, Clock())
    worker.until_final(resend)
    db.refresh(resend)
    assert resend.status is ResendStatus.SENT


def test_a_capture_and_a_resend_log_no_token_secret_or_body(
    every_log: io.StringIO,
    keyed_api: ApiClient,
    db: Session,
    keyed: Settings,
    world: World,
    sessions: sessionmaker[Session],
    simulated_graph: Graph,
    tokens: TokenSource,
) -> None:
    """Logs at DEBUG, text and JSON, of a capture and a resend: no secret in them."""
    capture_and_resend(keyed_api, db, keyed, world, sessions, simulated_graph)
    cached = cached_tokens(db, world.users["admin"].id)
    secrets = {
        "the pane's bearer token": tokens("admin"),
        "the client secret": keyed.client_secret,
        "the message body": BODY,
        **{
            f"a Graph access token ({n})": t
            for n, t in enumerate(cached["AccessToken"])
        },
        **{f"a refresh token ({n})": t for n, t in enumerate(cached["RefreshToken"])},
    }
    written = every_log.getvalue()

    assert cached["AccessToken"] and cached["RefreshToken"]
    assert "GET" in written or "POST" in written, "nothing was logged at all?"
    # A token is also caught by a piece of it: its signature, its last 40 characters.
    leaked = [what for what, secret in secrets.items() if secret[-40:] in written]
    assert leaked == []


def test_the_stored_token_cache_holds_no_plaintext_token(
    keyed_api: ApiClient,
    db: Session,
    keyed: Settings,
    world: World,
    sessions: sessionmaker[Session],
    simulated_graph: Graph,
    tokens: TokenSource,
) -> None:
    """The raw column of the token cache holds no access or refresh token."""
    capture_and_resend(keyed_api, db, keyed, world, sessions, simulated_graph)
    user_id = world.users["admin"].id
    cached = cached_tokens(db, user_id)
    raw = bytes(
        db.execute(
            text("SELECT ciphertext FROM user_token_cache WHERE user_id = :id"),
            {"id": user_id},
        ).scalar_one()
    )

    for secret in [*cached["AccessToken"], *cached["RefreshToken"], tokens("admin")]:
        for piece in (secret, secret[:24], secret[-24:]):
            assert piece.encode() not in raw
    assert keyed.client_secret.encode() not in raw
