"""Domain errors. Each carries a short sentence a person can act on.

The web layer turns them into the API's one error shape; the status says what kind
of problem it is.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    """The caller is known but may not do this: a missing right, tier or add-on."""

    status = 403
    code = "forbidden"


class NotFound(DomainError):
    """No such record in the caller's firm. Another firm's records are not found too."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request breaks a rule given the record's current state."""

    status = 409
    code = "conflict"


class Invalid(DomainError):
    """A field is missing or malformed; ``field`` names it."""

    status = 422
    code = "invalid"


class TemporarilyUnavailable(DomainError):
    """A dependency (Microsoft, the broker) failed in a way worth trying again."""

    status = 503
    code = "temporarily_unavailable"

    def __init__(
        self, message: str, retry_after: float | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after


class TooManyRequests(DomainError):
    """The caller, or their firm, used up a budget of requests; ``retry_after`` says
    in how many seconds the next one is taken."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
