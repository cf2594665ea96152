"""Resending an email interaction from the caller's own mailbox, and its history."""

from __future__ import annotations

from flask import g

from interactions.microsoft.tokens import exchange_on_behalf_of
from interactions.models import FINAL_RESEND_STATUSES, Resend, User
from interactions.services import resends
from web.api import api
from web.api.schemas import (
    ResendAttemptOut,
    ResendHistory,
    ResendIn,
    ResendOut,
    ResendPreview,
    ResendRecipientOut,
)
from web.context import actor, db, runtime


def resend_out(resend: Resend, requested_by: str | None = None) -> ResendOut:
    return ResendOut(
        id=resend.id,
        interaction_id=resend.interaction_id,
        status=resend.status.value,
        label=resends.STATUS_LABELS[resend.status],
        is_final=resend.status in FINAL_RESEND_STATUSES,
        reason=resend.reason,
        subject=resend.subject,
        recipients=[ResendRecipientOut.model_validate(r) for r in resend.recipients],
        requested_by=requested_by or db().get_one(User, resend.user_id).name,
        attempts=[ResendAttemptOut.model_validate(a) for a in resend.history],
        created_at=resend.created_at,
        updated_at=resend.updated_at,
        sent_at=resend.sent_at,
    )


@api.operation(
    "GET",
    "/interactions/<int:interaction_id>/resend",
    summary="Whom a resend would go to, for the confirmation; or why it cannot",
    tag="resends",
    response=ResendPreview,
    errors=(404, 409),
)
def preview_resend(interaction_id: int) -> ResendPreview:
    resendable = resends.check_resendable(db(), actor(), interaction_id)
    return ResendPreview(
        subject=resendable.interaction.title,
        recipients=[
            ResendRecipientOut.model_validate(vars(r)) for r in resendable.recipients
        ],
    )


@api.operation(
    "POST",
    "/interactions/<int:interaction_id>/resend",
    summary="Send an email interaction again from your mailbox, to its recipients",
    tag="resends",
    body=ResendIn,
    response=ResendOut,
    status=202,
    errors=(404, 409),
)
def request_resend(interaction_id: int, body: ResendIn) -> ResendOut:
    resend = resends.request_resend(db(), actor(), interaction_id, body.request_key)
    # The worker sends as this user: trade their token for Graph tokens now, while
    # it is at hand; their cache keeps the refresh.
    exchange_on_behalf_of(
        db(), runtime().settings, actor().user_id, g.caller.tenant_id, g.token
    )
    return resend_out(resend)


@api.operation(
    "GET",
    "/resends/<int:resend_id>",
    summary="A resend's state and its attempts",
    tag="resends",
    response=ResendOut,
    errors=(404,),
    browser=True,
)
def get_resend(resend_id: int) -> ResendOut:
    return resend_out(resends.get_resend(db(), actor(), resend_id))


@api.operation(
    "GET",
    "/interactions/<int:interaction_id>/resends",
    summary="Who resent an interaction, when, to whom, and how it went",
    tag="resends",
    response=ResendHistory,
    errors=(404,),
    browser=True,
)
def resend_history(interaction_id: int) -> ResendHistory:
    found = resends.history(db(), actor(), interaction_id)
    return ResendHistory(resends=[resend_out(r, name) for r, name in found])
