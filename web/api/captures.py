"""Captures from the Outlook add-in: accept, follow, and ask if a message is logged."""

from __future__ import annotations

from flask import g

from interactions.microsoft.tokens import exchange_on_behalf_of
from interactions.models import Capture, CaptureStatus
from interactions.rate_limits import Budget
from interactions.services import captures
from web.api import api
from web.api.schemas import CaptureIn, CaptureLookup, CaptureLookupQuery, CaptureOut
from web.context import actor, db, runtime


def capture_out(capture: Capture) -> CaptureOut:
    return CaptureOut(
        id=capture.id,
        status=capture.status.value,
        reason=capture.reason,
        interaction_id=capture.interaction_id,
        has_different_body=capture.has_different_body,
        attempts=capture.attempts,
        created_at=capture.created_at,
        updated_at=capture.updated_at,
    )


@api.operation(
    "POST",
    "/captures",
    summary="Log a message from the add-in; processed after the answer",
    tag="captures",
    body=CaptureIn,
    response=CaptureOut,
    status=202,
    errors=(403, 422, 503),
    budgets=(Budget.CAPTURES,),
)
def submit(body: CaptureIn) -> CaptureOut:
    payload = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    capture = captures.submit_capture(db(), actor(), payload)
    draft = captures.CaptureDraft.of(payload)
    if capture.status is CaptureStatus.QUEUED and (
        draft.needs_message or draft.needs_attachments
    ):
        # The worker will read the mailbox as this user: trade their token for
        # Graph tokens now, while it is at hand; their cache keeps the refresh.
        exchange_on_behalf_of(
            db(), runtime().settings, actor().user_id, g.caller.tenant_id, g.token
        )
    return capture_out(capture)


@api.operation(
    "GET",
    "/captures/lookup",
    summary="Whether a message is logged already, and its latest capture",
    tag="captures",
    query=CaptureLookupQuery,
    response=CaptureLookup,
)
def lookup(query: CaptureLookupQuery) -> CaptureLookup:
    found = captures.lookup(db(), actor(), query.internet_message_id)
    return CaptureLookup(
        internet_message_id=query.internet_message_id.strip(),
        is_logged=found.interaction_id is not None,
        interaction_id=found.interaction_id,
        capture=capture_out(found.capture) if found.capture else None,
    )


@api.operation(
    "GET",
    "/captures/<int:capture_id>",
    summary="A capture's state: queued, processing, stored, duplicate or failed",
    tag="captures",
    response=CaptureOut,
    errors=(404,),
)
def get_capture(capture_id: int) -> CaptureOut:
    return capture_out(captures.get_capture(db(), actor(), capture_id))
