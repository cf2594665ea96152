"""What the system is doing, counted from the database, the record of truth.

Counting at scrape time, rather than in each process, gives every web and worker
process the same answer and survives restarts; none of it names a firm.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interactions.models import (
    FINAL_RESEND_STATUSES,
    FINAL_STATUSES,
    Capture,
    CaptureStatus,
    Resend,
    ResendAttempt,
    ResendStatus,
)


@dataclass(frozen=True)
class Figures:
    captures: dict[str, int]
    resends: dict[str, int]
    resend_attempts: dict[str, int]
    #: Work a worker has yet to finish: captures and resends not final.
    queue_depth: dict[str, int]


def figures(session: Session) -> Figures:
    captures = _by_status(session, Capture.status, [s.value for s in CaptureStatus])
    resends = _by_status(session, Resend.status, [s.value for s in ResendStatus])
    attempts = {
        outcome or "under_way": count
        for outcome, count in session.execute(
            select(ResendAttempt.outcome, func.count()).group_by(ResendAttempt.outcome)
        )
    }
    return Figures(
        captures=captures,
        resends=resends,
        resend_attempts=attempts,
        queue_depth={
            "capture": sum(
                n for s, n in captures.items() if CaptureStatus(s) not in FINAL_STATUSES
            ),
            "resend": sum(
                n
                for s, n in resends.items()
                if ResendStatus(s) not in FINAL_RESEND_STATUSES
            ),
        },
    )


def _by_status(session: Session, column: object, statuses: list[str]) -> dict[str, int]:
    counted = dict.fromkeys(statuses, 0)
    for status, count in session.execute(
        select(column, func.count()).group_by(column)  # type: ignore[call-overload]
    ):
        counted[getattr(status, "value", status)] = count
    return counted
