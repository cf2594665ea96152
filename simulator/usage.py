"""How hard each mailbox is used: the figures Graph's per-mailbox limits are about.

Exchange allows an app four concurrent requests per mailbox and about thirty
messages a minute from it. The simulator does not enforce either; it keeps, per
mailbox, the most requests it ever had in flight at once and the time of every
message it accepted for sending, so that a test or a benchmark can show the
product stays within them.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class MailboxUsage:
    """What one mailbox has seen since the figures were last cleared."""

    in_flight: int
    max_in_flight: int
    #: When each message sent from the mailbox was accepted, oldest first (UTC).
    sent_at: tuple[datetime, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "in_flight": self.in_flight,
            "max_concurrent_requests": self.max_in_flight,
            "sends": [moment.isoformat() for moment in self.sent_at],
        }


class Usage:
    """Per-mailbox counters, keyed by the owner's object id; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self._max_in_flight: Counter[str] = Counter()
        self._sent_at: defaultdict[str, list[datetime]] = defaultdict(list)

    def enter(self, object_id: str) -> None:
        """A request for the mailbox has started."""
        with self._lock:
            self._in_flight[object_id] += 1
            self._max_in_flight[object_id] = max(
                self._max_in_flight[object_id], self._in_flight[object_id]
            )

    def leave(self, object_id: str) -> None:
        """A request for the mailbox has been answered."""
        with self._lock:
            self._in_flight[object_id] -= 1

    def record_send(self, object_id: str, accepted_at: datetime) -> None:
        with self._lock:
            self._sent_at[object_id].append(accepted_at)

    def of(self, object_id: str) -> MailboxUsage:
        with self._lock:
            return MailboxUsage(
                self._in_flight[object_id],
                self._max_in_flight[object_id],
                tuple(self._sent_at[object_id]),
            )

    def clear(self, object_id: str | None = None) -> None:
        """Start the figures again, of one mailbox or of all.

        Requests still in flight stay counted, so that they are not lost when they
        end.
        """
        with self._lock:
            owners = [object_id] if object_id is not None else list(self._in_flight)
            for owner in owners:
                self._max_in_flight[owner] = self._in_flight[owner]
            if object_id is None:
                self._sent_at.clear()
            else:
                self._sent_at.pop(object_id, None)
