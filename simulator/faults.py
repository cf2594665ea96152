"""Wrong answers on purpose: the faults tests and scripts put in force.

Every route of the simulator, Entra's too, looks here before answering
(``simulator.graph`` applies them): a 429 with Retry-After, a 5xx, a token taken
for expired, or an answer lost after the request was carried out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """A wrong answer the simulator gives instead of the real one, ``times`` times.

    Most faults answer before the request is carried out, as a throttled or failing
    Graph does. With ``after_accept_status`` or ``after_accept_delay`` the request
    is carried out first (a message is sent and filed), and only then is the answer
    lost: replaced by that error status, or held back that many seconds so that the
    caller's read timeout fires. A request that fails on its own is answered as it
    is.
    """

    status: int
    method: str | None = None
    path_contains: str = ""
    retry_after: int | None = None
    #: None: until the faults are cleared.
    times: int | None = 1
    #: Answer as Graph does when it takes the token for expired (401).
    expired_token: bool = False
    after_accept_status: int | None = None
    after_accept_delay: float = 0.0
    served: int = 0

    @property
    def is_after_accept(self) -> bool:
        return self.after_accept_status is not None or self.after_accept_delay > 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.method is None or self.method.upper() == method.upper()
        ) and self.path_contains in path


class Faults:
    """The faults in force; shared by every route of the simulator, Entra's too."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        *,
        status: int = 503,
        method: str | None = None,
        path_contains: str = "",
        retry_after: int | None = None,
        times: int | None = 1,
        expired_token: bool = False,
        after_accept_status: int | None = None,
        after_accept_delay: float = 0.0,
    ) -> Fault:
        fault = Fault(
            status,
            method=method,
            path_contains=path_contains,
            retry_after=retry_after,
            times=times,
            expired_token=expired_token,
            after_accept_status=after_accept_status,
            after_accept_delay=after_accept_delay,
        )
        with self._lock:
            self._faults.append(fault)

        return fault

    def expire_tokens(self, times: int | None = 1) -> Fault:
        """Take every Graph token for expired, for the next ``times`` calls."""
        return self.add(
            status=401, path_contains="/v1.0/", times=times, expired_token=True
        )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def listed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault for this request, used up by one; None to answer truly."""
        with self._lock:
            fault = next((f for f in self._faults if f.matches(method, path)), None)
            if fault is None:
                return None

            fault.served += 1
            if fault.times is not None and fault.served >= fault.times:
                self._faults.remove(fault)

            return fault
