"""A Blast Email's progress: how many of its messages went, failed, or are on their
way; the blast's page follows it with this."""

from __future__ import annotations

from interactions.services import blast_progress
from web.api import api
from web.api.schemas import BlastOut, BlastRecipientOut
from web.context import actor, db


@api.operation(
    "GET",
    "/blasts/<int:blast_id>",
    summary="A Blast Email's progress, recipient by recipient",
    tag="blasts",
    response=BlastOut,
    errors=(404,),
    browser=True,
)
def get_blast(blast_id: int) -> BlastOut:
    progress = blast_progress.progress(db(), actor(), blast_id)
    blast = progress.blast
    return BlastOut(
        id=blast.id,
        subject=blast.subject,
        sender_id=blast.sender_id,
        created_at=blast.created_at,
        total=progress.total,
        sent=progress.sent,
        failed=progress.failed,
        waiting=progress.waiting,
        is_finished=progress.is_finished,
        recipients=[
            BlastRecipientOut(
                id=state.recipient.id,
                contact_id=state.recipient.contact_id,
                name=state.recipient.name,
                address=state.recipient.address,
                interaction_id=state.recipient.interaction_id,
                resend_id=state.recipient.resend_id,
                status=state.status.value if state.status else None,
                label=state.label,
                reason=state.reason,
                can_retry=state.can_retry,
            )
            for state in progress.recipients
        ],
    )
