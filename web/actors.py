"""A short memory of the API's callers, per web process.

The pane polls and saves in bursts with one token; remembering for a few seconds that
the token was valid, and whom it named with what rights, spares each of those
requests the token's signature check and a read of the account and its rights. The
price is that a right removed, or an account deactivated, reaches the API only when
the entry expires: after ``Settings.actor_cache_seconds`` at most
(ACTOR_CACHE_SECONDS; 0 turns it off). An entry never outlives its token, and a
token that is refused is not remembered, so a new account works at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from interactions.microsoft.identity import Caller
from interactions.services.access import Actor

#: Past this many tokens the memory starts again empty, so that it stays small.
MAX_TOKENS = 2_000

Identified = tuple[Caller, Actor]


class ActorCache:
    def __init__(
        self,
        seconds: float,
        max_tokens: int = MAX_TOKENS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._seconds = seconds
        self._max_tokens = max_tokens
        self._clock = clock
        self._callers: dict[str, tuple[float, Identified]] = {}

    def identify(self, token: str, identify: Callable[[], Identified]) -> Identified:
        """The caller and actor of a token as remembered, or as ``identify`` finds
        them now."""
        if self._seconds <= 0:
            return identify()

        now = self._clock()
        remembered = self._callers.get(token)
        if remembered is not None and remembered[0] > now:
            return remembered[1]

        # Threads of one process may both identify a token at once; either answer
        # is current, and the dictionary's own operations need no lock.
        identified = identify()
        if len(self._callers) >= self._max_tokens:
            self._callers.clear()
        valid_until = identified[0].valid_until
        self._callers[token] = (min(now + self._seconds, valid_until), identified)

        return identified
