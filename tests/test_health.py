"""Liveness and readiness, and the answer when the database is out of reach."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from interactions.services import captures
from tests.conftest import ApiClient
from web import create_app
from web.context import Runtime


def test_healthz_needs_nothing(app: Flask) -> None:
    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(app: Flask) -> None:
    response = app.test_client().get("/readyz")

    assert response.status_code == 200, response.json
    assert response.json["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_reports_a_broker_that_is_down(app: Flask) -> None:
    runtime: Runtime = app.extensions["interactions"]
    settings = dataclasses.replace(runtime.settings, broker_url="redis://127.0.0.1:1/0")
    broken = create_app(dataclasses.replace(runtime, settings=settings))

    response = broken.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "broker": "unavailable"}


def test_a_database_out_of_reach_answers_503_with_retry_after(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def restarting(*_: Any) -> None:
        raise OperationalError("SELECT 1", {}, Exception("the server restarted"))

    monkeypatch.setattr(captures, "submit_capture", restarting)

    response = api.post("/api/v1/captures", {"item": {"subject": "Census"}})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json["error"]["code"] == "temporarily_unavailable"
