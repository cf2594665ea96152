"""A short memory of who the API's callers are, per web process.

The pane polls and saves in bursts, and every request names its caller by the token's
(tenant id, object id); remembering the actor for a few seconds spares each of those
requests a read of the account and its rights. The price is that a right removed, or
an account deactivated, reaches the API only when the caller's entry expires: after
``Settings.actor_cache_seconds`` at most (ACTOR_CACHE_SECONDS; 0 turns it off). A
caller who is refused is not remembered, so a new account works at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from interactions.services.access import Actor

#: Past this many callers the memory starts again empty, so that it stays small.
MAX_CALLERS = 10_000


class ActorCache:
    def __init__(
        self,
        seconds: float,
        max_callers: int = MAX_CALLERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._max_callers = max_callers
        self._clock = clock
        self._actors: dict[tuple[str, str], tuple[float, Actor]] = {}

    def actor(self, tenant_id: str, object_id: str, read: Callable[[], Actor]) -> Actor:
        """The caller's actor as remembered, or as ``read`` finds it now."""
        if self._seconds <= 0:
            return read()

        key = (tenant_id, object_id)
        now = self._clock()
        remembered = self._actors.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]

        # Threads of one process may both read a caller at once; either answer is
        # current, and the dictionary's own operations need no lock.
        actor = read()
        if len(self._actors) >= self._max_callers:
            self._actors.clear()
        self._actors[key] = (now + self._seconds, actor)

        return actor
