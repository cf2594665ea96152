"""Prometheus metrics: counted from the database, behind their token."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from interactions.models import Capture, CaptureStatus, Resend, ResendAttempt
from tests.conftest import Factory, World
from web import create_app


def app_with_token(app: Flask, token: str) -> Flask:
    runtime = app.extensions["interactions"]
    settings = dataclasses.replace(runtime.settings, metrics_token=token)
    return create_app(dataclasses.replace(runtime, settings=settings))


def test_metrics_are_off_without_a_token(app: Flask) -> None:
    assert app.test_client().get("/metrics").status_code == 404


def test_a_scrape_needs_the_token(app: Flask) -> None:
    client = app_with_token(app, "scrape-me").test_client()

    assert client.get("/metrics").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong).status_code == 401


def test_the_figures_count_captures_resends_and_throttling(
    app: Flask, make: Factory, world: World, db: Session
) -> None:
    actor = world.actors["admin"]

    def capture(status: CaptureStatus) -> Any:
        return make._add(
            Capture(
                firm_id=actor.firm_id, user_id=actor.user_id, status=status, payload={}
            )
        )

    capture(CaptureStatus.QUEUED)
    capture(CaptureStatus.STORED)
    capture(CaptureStatus.FAILED)
    resend = make._add(
        Resend(firm_id=actor.firm_id, user_id=actor.user_id, subject="s", recipients=[])
    )
    resend.history.append(ResendAttempt(number=1, outcome="throttled"))
    db.flush()
    client = app_with_token(app, "scrape-me").test_client()

    text = client.get(
        "/metrics", headers={"Authorization": "Bearer scrape-me"}
    ).get_data(as_text=True)

    assert 'interactions_captures{status="queued"} 1.0' in text
    assert 'interactions_captures{status="stored"} 1.0' in text
    assert 'interactions_resends{status="requested"} 1.0' in text
    assert 'interactions_queue_depth{kind="capture"} 1.0' in text
    assert 'interactions_queue_depth{kind="resend"} 1.0' in text
    assert "interactions_graph_throttled_sends 1.0" in text
