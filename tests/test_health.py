"""Liveness and readiness."""

from __future__ import annotations

import dataclasses

from flask import Flask

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
