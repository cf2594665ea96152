"""The user's mailbox through Microsoft Graph, with O365, as the workers read it.

O365 carries every call: its MailBox builds the URLs under settings.graph_url, and
its Connection makes the requests and, when Graph answers 401, refreshes the token
once through the token backend's ``should_refresh_token`` hook. Three seams make it
fit: a protocol whose base URL is the configured one (the simulator, or Graph); a
token backend holding the one access token ``tokens.graph_token`` gave (the MSAL
cache stays encrypted in the database, O365 stores nothing); and a connection whose
session is ours, trusting only the configured CA, with a timeout on every call, no
retries of its own, and headers that print the bearer token masked (O365 logs the
session's headers at DEBUG).

Retries belong to the worker: O365's urllib3 retries sleep inside the call for as
long as Retry-After says, holding a worker slot, and they hide throttling from the
task. So a 429 or a 5xx surfaces at once as GraphThrottled or GraphUnavailable with
Graph's Retry-After, and the task comes back after it.

Messages come back as Graph's own JSON (what ``interactions.mail`` parses), not as
O365's Message objects, which re-type and localize the fields. Sending as the user
can go through the same MailBox (``new_message``, ``add_message_header``, ``send``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from O365.connection import Connection, MSGraphProtocol
from O365.mailbox import MailBox
from O365.utils.token import BaseTokenBackend
from requests.structures import CaseInsensitiveDict
from sqlalchemy.orm import Session

from interactions.config import Settings
from interactions.errors import DomainError, Forbidden, NotFound, TemporarilyUnavailable
from interactions.microsoft.http import TIMEOUT, make_session
from interactions.microsoft.tokens import ConsentRequired, graph_token

log = logging.getLogger(__name__)

#: What a capture needs of a message.
MESSAGE_FIELDS = (
    "id",
    "internetMessageId",
    "conversationId",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "sentDateTime",
    "receivedDateTime",
    "body",
    "bodyPreview",
    "hasAttachments",
    "webLink",
)
#: An attachment's metadata; never its content (contentBytes).
ATTACHMENT_FIELDS = ("id", "name", "contentType", "size", "isInline")


class GraphUnavailable(TemporarilyUnavailable):
    """Graph failed or could not be reached; trying again later may work.

    ``retry_after`` is Graph's Retry-After in seconds, when it sent one.
    """

    code = "graph_unavailable"
    reason = (
        "Microsoft Graph cannot be reached right now; Interactions will try again "
        "shortly."
    )

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(self.reason, retry_after)


class GraphThrottled(GraphUnavailable):
    """Graph answered 429: too many requests for this mailbox just now."""

    code = "graph_throttled"
    reason = (
        "Microsoft Graph asked Interactions to slow down for your mailbox; it will "
        "try again in a moment."
    )


class MessageNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "The message is no longer in your mailbox; it may have been moved or "
            "deleted. Open it in Outlook and capture it again."
        )


class MailboxAccessDenied(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "Interactions may not read this mailbox; ask your administrator to "
            "grant it access to mail."
        )


class GraphRequestRefused(DomainError):
    """Graph refused a request as malformed: a fault of ours, not the user's."""

    status = 502
    code = "graph_refused"

    def __init__(self) -> None:
        super().__init__(
            "Microsoft Graph refused the request; the details are in the log for "
            "your administrator."
        )


# -- the three seams into O365 ---------------------------------------------------------


class _GraphProtocol(MSGraphProtocol):  # type: ignore[misc]
    """Graph at the configured URL (O365 takes its base URL from the class)."""

    def __init__(self, graph_url: str) -> None:
        base_url, _, version = graph_url.rstrip("/").rpartition("/")
        self._protocol_url = f"{base_url}/"
        super().__init__(api_version=version)


class _DelegatedToken(BaseTokenBackend):  # type: ignore[misc]
    """The token O365 sends: one access token from ``tokens.graph_token``.

    O365 asks ``token_is_expired`` only when Graph has answered 401 (or 403), and
    then ``should_refresh_token``. Graph refuses tokens before their time too (a
    revoked session, continuous access evaluation), so the first refusal of each
    gateway call counts as expiry: the hook gets a new token through MSAL and
    answers False ("refreshed elsewhere"), on which O365 puts it on the session and
    sends the request once more. A second refusal reaches the gateway as is.
    """

    def __init__(self, access_token: str, refresh: Callable[[], str]) -> None:
        super().__init__()
        self._access_token = access_token
        self._refresh = refresh
        self._has_refreshed = False

    def allow_one_refresh(self) -> None:
        self._has_refreshed = False

    def get_access_token(self, *, username: str | None = None) -> dict[str, str]:
        return {"secret": self._access_token}

    def token_is_expired(self, *, username: str | None = None) -> bool:
        return not self._has_refreshed

    def token_is_long_lived(self, *, username: str | None = None) -> bool:
        return True  # the refresh token exists, in the user's MSAL cache

    def should_refresh_token(
        self, con: Connection | None = None, *, username: str | None = None
    ) -> bool:
        self._has_refreshed = True
        self._access_token = self._refresh()
        return False

    def load_token(self) -> bool:
        return True

    def save_token(self, force: bool = False) -> bool:
        return True


class _MaskedHeaders(CaseInsensitiveDict[str | bytes]):
    """Session headers that never print the bearer token.

    O365 logs the session's headers at DEBUG before every request, and O365 itself
    keeps the token there (it checks for it and puts each refreshed one there).
    """

    def __repr__(self) -> str:
        return repr(
            {
                name: "Bearer ********" if name.lower() == "authorization" else value
                for name, value in self.items()
            }
        )


class _WithoutClientErrors(logging.Filter):
    """Drops O365's ERROR for each 4xx: the gateway logs every failure once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client Error:")


logging.getLogger("O365.connection").addFilter(_WithoutClientErrors())


class _GraphConnection(Connection):  # type: ignore[misc]
    def __init__(self, settings: Settings, token: _DelegatedToken) -> None:
        # O365 never signs in here (the token backend has the token), so it gets
        # the client id and not the secret.
        super().__init__(
            (settings.client_id, ""),
            token_backend=token,
            requests_delay=0,
            request_retries=0,
            timeout=TIMEOUT,
            raise_http_errors=True,
        )
        self._settings = settings

    def get_session(self, load_token: bool = False) -> requests.Session:
        """Our session: O365's would let REQUESTS_CA_BUNDLE override the CA."""
        session = make_session(self._settings)
        session.headers = _MaskedHeaders(session.headers)
        token = self.token_backend.get_access_token()["secret"]
        session.headers["Authorization"] = f"Bearer {token}"
        return session


# -- the gateway -----------------------------------------------------------------------


class MailGateway:
    """One user's mailbox, for the length of a task; close it when done."""

    def __init__(
        self, settings: Settings, user_id: int, token: _DelegatedToken
    ) -> None:
        self._user_id = user_id
        self._token = token
        self._connection = _GraphConnection(settings, token)
        self._mailbox = MailBox(
            con=self._connection,
            protocol=_GraphProtocol(settings.graph_url),
            main_resource="me",
        )

    @classmethod
    def for_user(
        cls, session: Session, settings: Settings, user_id: int
    ) -> MailGateway:
        """The user's mailbox, with a token from their cache: what a task calls.

        Raises ConsentRequired when only signing in again can give a token,
        IdentityUnavailable when Entra ID cannot answer now, and
        IdentityMisconfigured when it refuses the API itself. Its reads raise
        GraphThrottled and GraphUnavailable (TemporarilyUnavailable, with Graph's
        Retry-After), MessageNotFound, MailboxAccessDenied, GraphRequestRefused,
        and the errors of a token refresh.
        """
        token = _DelegatedToken(
            graph_token(session, settings, user_id),
            lambda: graph_token(session, settings, user_id, force_refresh=True),
        )
        return cls(settings, user_id, token)

    def get_message(self, rest_id: str) -> dict[str, Any]:
        """The message's fields that a capture needs, in Graph's shape (HTML body)."""
        response = self._get(
            "read",
            rest_id,
            f"/messages/{_segment(rest_id)}",
            params={"$select": ",".join(MESSAGE_FIELDS)},
        )
        message: dict[str, Any] = self._json(response, "read", rest_id)
        return message

    def list_attachments(self, rest_id: str) -> list[dict[str, Any]]:
        """The attachments' names, types and sizes; never their content."""
        response = self._get(
            "list the attachments of",
            rest_id,
            f"/messages/{_segment(rest_id)}/attachments",
            params={"$select": ",".join(ATTACHMENT_FIELDS)},
        )
        attachments: list[dict[str, Any]] = self._json(
            response, "list the attachments of", rest_id
        ).get("value", [])
        return attachments

    def close(self) -> None:
        if self._connection.session is not None:
            self._connection.session.close()

    def __enter__(self) -> MailGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(
        self,
        action: str,
        rest_id: str,
        path: str,
        params: dict[str, str],
    ) -> requests.Response:
        self._token.allow_one_refresh()
        try:
            response: requests.Response = self._connection.get(
                self._mailbox.build_url(path), params=params
            )
        except requests.HTTPError as error:
            if error.response is None:
                raise self._unavailable(action, rest_id, error) from error
            raise self._refusal(action, rest_id, error.response) from error
        except requests.RequestException as error:
            raise self._unavailable(action, rest_id, error) from error

        return response

    def _json(self, response: requests.Response, action: str, rest_id: str) -> Any:
        try:
            return response.json()
        except ValueError as error:
            raise self._unavailable(action, rest_id, error) from error

    def _unavailable(
        self, action: str, rest_id: str, error: Exception
    ) -> GraphUnavailable:
        log.warning(
            "Graph failed to %s message %s of user %s: %r",
            action,
            rest_id,
            self._user_id,
            error,
        )
        return GraphUnavailable()

    def _refusal(
        self, action: str, rest_id: str, response: requests.Response
    ) -> DomainError:
        """The domain error for Graph's answer, logged once with its cause."""
        status, (code, message) = response.status_code, _graph_error(response)
        level, error = logging.WARNING, _refusal_error(status, code, response)
        if isinstance(error, MessageNotFound):
            level = logging.INFO
        elif isinstance(error, GraphRequestRefused):
            level = logging.ERROR
        log.log(
            level,
            "Graph refused to %s message %s of user %s: %s %s %r (retry after %s s)",
            action,
            rest_id,
            self._user_id,
            status,
            code,
            message,
            getattr(error, "retry_after", None),
        )
        return error


def _refusal_error(status: int, code: str, response: requests.Response) -> DomainError:
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return GraphThrottled(retry_after)

    if status >= 500:
        return GraphUnavailable(retry_after)

    if status == 401:
        return ConsentRequired()  # still refused after one refresh

    if status == 404 or code == "ErrorInvalidIdMalformed":
        return MessageNotFound()

    if status == 403:
        return MailboxAccessDenied()

    return GraphRequestRefused()


def _segment(rest_id: str) -> str:
    """A REST id as one path segment (ids may hold '=', and EWS ids '/' and '+')."""
    return quote(rest_id, safe="")


def _graph_error(response: requests.Response) -> tuple[str, str]:
    """Graph's error code and message (O365's parser looks in innerError)."""
    try:
        error = response.json()["error"]
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", ""


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from a number or an HTTP date; None if absent."""
    if not value:
        return None

    value = value.strip()
    if value.isdigit():
        return float(value)

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
