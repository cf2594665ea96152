"""The capture health page: no failure stays silent, and a person can retry."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from interactions.models import Capture, CaptureStatus
from interactions.queue import RecordingQueue
from interactions.services.captures import PROCESS_TASK
from tests.browsing import Browser, Forms
from tests.conftest import Factory, World


def capture(
    make: Factory, world: World, status: CaptureStatus, title: str, **values: Any
) -> Capture:
    actor = world.actors["admin" if "firm" not in values else "other"]
    values.pop("firm", None)
    return make._add(
        Capture(
            firm_id=actor.firm_id,
            user_id=actor.user_id,
            status=status,
            payload={"title": title, "item": {"subject": title}},
            **values,
        )
    )


def test_lists_failed_and_waiting_captures_with_their_reason(
    visitor: Browser, make: Factory, world: World
) -> None:
    capture(make, world, CaptureStatus.FAILED, "Census", reason="The message is gone.")
    capture(make, world, CaptureStatus.QUEUED, "Loan request")
    capture(make, world, CaptureStatus.STORED, "Fee disclosure")
    capture(make, world, CaptureStatus.FAILED, "Other firm's", firm="other")
    visitor.sign_in("admin")

    page = visitor.get("/captures").text

    assert "Census" in page
    assert "The message is gone." in page
    assert "Loan request" in page
    assert "Fee disclosure" not in page
    assert "Other firm" not in page


def test_retry_sends_a_failed_capture_to_a_worker_again(
    visitor: Browser, make: Factory, world: World, db: Session, queue: RecordingQueue
) -> None:
    failed = capture(
        make, world, CaptureStatus.FAILED, "Census", reason="Gave up.", attempts=6
    )
    visitor.sign_in("admin")
    forms = Forms()
    forms.feed(visitor.get("/captures").text)
    retry = next(f for f in forms.forms if f.get("action", "").endswith("/retry"))

    answer = visitor.post(retry["action"], retry["fields"])

    assert answer.status_code == 302
    db.refresh(failed)
    assert failed.status is CaptureStatus.QUEUED
    assert failed.attempts == 0
    assert (PROCESS_TASK, (failed.id,)) in queue.sent
    assert "Sent to a worker again" in visitor.get("/captures").text


def test_retrying_needs_the_add_edit_right(
    visitor: Browser, make: Factory, world: World
) -> None:
    failed = capture(make, world, CaptureStatus.FAILED, "Census")
    visitor.sign_in("reader")
    forms = Forms()
    forms.feed(visitor.get("/captures").text)
    assert not any(f.get("action", "").endswith("/retry") for f in forms.forms)

    token = forms.forms[0]["fields"]["csrf_token"]
    answer = visitor.post(f"/captures/{failed.id}/retry", {"csrf_token": token})

    assert answer.status_code == 403
    assert "Add/Edit Interaction" in answer.text


def test_another_firms_capture_cannot_be_retried(
    visitor: Browser, make: Factory, world: World
) -> None:
    theirs = capture(make, world, CaptureStatus.FAILED, "Theirs", firm="other")
    visitor.sign_in("admin")
    forms = Forms()
    forms.feed(visitor.get("/captures").text)
    token = forms.forms[0]["fields"]["csrf_token"]

    answer = visitor.post(f"/captures/{theirs.id}/retry", {"csrf_token": token})

    assert answer.status_code == 404
