"""The API remembers its callers' tokens for a few seconds: how soon a change
reaches it, and that a token is never trusted past its expiry."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from interactions.config import ConfigError, load_settings
from interactions.models import User
from tests.conftest import ApiClient, RunningSimulator, World
from tests.test_identity import forged
from web.actors import ActorCache
from web.context import ACTORS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rights(api: ApiClient, handle: str) -> list[str]:
    response = api.get("/api/v1/me", as_=handle)
    assert response.status_code == 200, response.json
    return list(response.json["rights"])


def take_all_rights(db: Session, world: World, handle: str) -> None:
    user = db.get_one(User, world.users[handle].id)
    user.security_groups = []
    db.flush()


def test_a_removed_right_reaches_the_api_when_the_callers_entry_expires(
    app: Flask, api: ApiClient, db: Session, world: World
) -> None:
    clock = Clock()
    app.extensions[ACTORS] = ActorCache(5.0, clock=clock)
    before = rights(api, "editor")
    take_all_rights(db, world, "editor")

    clock.now += 4.9
    soon = rights(api, "editor")
    clock.now += 0.2
    later = rights(api, "editor")

    assert before == soon == ["Add/Edit Interaction"]
    assert later == []


def test_without_the_cache_a_removed_right_takes_effect_at_once(
    app: Flask, api: ApiClient, db: Session, world: World
) -> None:
    app.extensions[ACTORS] = ActorCache(0)
    before = rights(api, "editor")
    take_all_rights(db, world, "editor")

    assert before == ["Add/Edit Interaction"]
    assert rights(api, "editor") == []


def test_a_refused_caller_is_not_remembered(
    app: Flask, api: ApiClient, db: Session, world: World
) -> None:
    app.extensions[ACTORS] = ActorCache(5.0, clock=Clock())
    user = db.get_one(User, world.users["editor"].id)
    user.is_active = False
    db.flush()
    refused = api.get("/api/v1/me", as_="editor")
    user.is_active = True
    db.flush()

    assert refused.status_code == 401
    assert rights(api, "editor") == ["Add/Edit Interaction"]


def test_a_remembered_token_is_not_checked_again(
    app: Flask, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.extensions[ACTORS] = ActorCache(5.0, clock=Clock())
    validator = app.extensions["interactions"].validator
    checks: list[str] = []
    validate = validator.validate

    def counted(token: str) -> Any:
        checks.append(token)
        return validate(token)

    monkeypatch.setattr(validator, "validate", counted)

    assert rights(api, "editor") == rights(api, "editor")
    assert len(checks) == 1


def test_a_remembered_token_is_refused_once_it_expires(
    app: Flask, api: ApiClient, running_simulator: RunningSimulator
) -> None:
    app.extensions[ACTORS] = ActorCache(60.0)
    leeway = app.extensions["interactions"].settings.token_leeway_seconds
    expires_at = int(time.time()) + 2
    token = forged(running_simulator, exp=expires_at - leeway)
    before = api.get("/api/v1/me", token=token)

    time.sleep(max(0.0, expires_at - time.time()) + 0.1)
    after = api.get("/api/v1/me", token=token)

    assert before.status_code == 200
    assert after.status_code == 401
    assert "expired" in after.json["error"]["message"]


def test_the_cache_holds_a_few_seconds_by_default() -> None:
    assert load_settings({}).actor_cache_seconds == 5.0
    assert load_settings({"ACTOR_CACHE_SECONDS": "0"}).actor_cache_seconds == 0.0


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "3600"])
def test_a_bad_cache_time_is_named(value: str) -> None:
    with pytest.raises(ConfigError, match="ACTOR_CACHE_SECONDS"):
        load_settings({"ACTOR_CACHE_SECONDS": value})
