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
O365's Message objects, which re-type and localize the fields.

Sending is one ``POST /me/sendMail``, never repeated below the caller: Graph has no
idempotency key, so a send that timed out, lost its connection or failed with a 5xx
may have been accepted all the same (SendOutcomeUnknown). Every message carries
RESEND_HEADER, and ``find_sent`` looks for it in Sent Items before anything is sent
again. A 429 or another 4xx means Graph did not take the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from O365.connection import Connection, MSGraphProtocol
from O365.mailbox import MailBox
from O365.utils.token import BaseTokenBackend
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from sqlalchemy.orm import Session
from urllib3.util.retry import Retry

from interactions.config import Settings
from interactions.errors import DomainError, Forbidden, NotFound, TemporarilyUnavailable
from interactions.microsoft.http import TIMEOUT, make_session
from interactions.microsoft.tokens import ConsentRequired, graph_token

__all__ = [
    "ATTACHMENT_FIELDS",
    "MESSAGE_FIELDS",
    "RESEND_HEADER",
    "GraphRequestRefused",
    "GraphThrottled",
    "GraphUnavailable",
    "MailGateway",
    "MailboxAccessDenied",
    "MessageNotFound",
    "OutgoingMessage",
    "SendOutcomeUnknown",
]

log = logging.getLogger(__name__)

#: The internet message header each resent message carries, with the resend's key.
#: One fixed name: Exchange makes a named property of every header name it sees,
#: and a mailbox has room for only so many.
RESEND_HEADER = "x-interactions-resend-id"
#: The named property Exchange files RESEND_HEADER under (PS_INTERNET_HEADERS),
#: which is how Graph filters on it.
_RESEND_PROPERTY = (
    f"String {{00020386-0000-0000-C000-000000000046}} Name {RESEND_HEADER}"
)

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
    def __init__(
        self,
        message: str = (
            "Interactions may not read this mailbox; ask your administrator to "
            "grant it access to mail."
        ),
    ) -> None:
        super().__init__(message)


_SEND_DENIED = (
    "Interactions may not send from this mailbox; ask your administrator to grant "
    "it permission to send mail."
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


class SendOutcomeUnknown(TemporarilyUnavailable):
    """The send may or may not have been accepted: timeout, reset connection, 5xx.

    Sending again could deliver the message twice: look for its RESEND_HEADER in
    Sent Items first (``MailGateway.find_sent``). ``retry_after`` is Graph's
    Retry-After in seconds, when it sent one.
    """

    code = "graph_send_outcome_unknown"
    reason = (
        "Microsoft Graph did not confirm that the email was sent; Interactions will "
        "check your Sent Items before it tries again."
    )

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(self.reason, retry_after)


@dataclass(frozen=True)
class OutgoingMessage:
    """An email to send from the user's own mailbox, without attachments."""

    subject: str
    #: Sanitized HTML, sent as contentType HTML.
    body_html: str
    #: (address, display name) of each recipient.
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    #: The value of RESEND_HEADER: what finds the message in Sent Items again.
    resend_key: str

    def __post_init__(self) -> None:
        # A header value is one line; a line break would let it write other headers.
        if not self.resend_key or not self.resend_key.isprintable():
            raise ValueError("A resend key is one line of printable characters.")


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


class _QuietO365(logging.Filter):
    """Drops O365's ERROR for each 4xx, and its DEBUG of each request's arguments.

    The gateway logs every failure once. The arguments hold the body of a POST,
    which for a send is the whole message: subject, recipients and text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Client Error:", "Request parameters:"))


logging.getLogger("O365.connection").addFilter(_QuietO365())

#: Not one retry below the gateway: a repeated POST could send a message twice, and
#: a repeated GET would hide throttling from the worker. It is requests' default
#: too; sending depends on it, so it is mounted explicitly.
_NO_RETRIES = Retry(total=0, read=False)


class _GraphConnection(Connection):  # type: ignore[misc]
    def __init__(self, settings: Settings, token: _DelegatedToken) -> None:
        # O365 never signs in here (the token backend has the token), so it gets
        # the client id and not the secret. Its one timeout would override every
        # call's; ours is set in oauth_request, so that a send can wait longer.
        super().__init__(
            (settings.client_id, ""),
            token_backend=token,
            requests_delay=0,
            request_retries=0,
            timeout=None,
            raise_http_errors=True,
        )
        self._settings = settings

    def oauth_request(self, url: str, method: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        response: requests.Response = super().oauth_request(url, method, **kwargs)
        return response

    def get_session(self, load_token: bool = False) -> requests.Session:
        """Our session: O365's would let REQUESTS_CA_BUNDLE override the CA."""
        session = make_session(self._settings)
        adapter = HTTPAdapter(max_retries=_NO_RETRIES)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
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
        self._send_timeout = (TIMEOUT[0], settings.graph_send_timeout_seconds)
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
        and the errors of a token refresh; ``send_mail`` says what it raises.
        """
        token = _DelegatedToken(
            graph_token(session, settings, user_id),
            lambda: graph_token(session, settings, user_id, force_refresh=True),
        )
        return cls(settings, user_id, token)

    def get_message(self, rest_id: str) -> dict[str, Any]:
        """The message's fields that a capture needs, in Graph's shape (HTML body)."""
        what = f"read message {rest_id}"
        response = self._get(
            what,
            f"/messages/{_segment(rest_id)}",
            params={"$select": ",".join(MESSAGE_FIELDS)},
        )
        message: dict[str, Any] = self._json(response, what)
        return message

    def list_attachments(self, rest_id: str) -> list[dict[str, Any]]:
        """The attachments' names, types and sizes; never their content."""
        what = f"list the attachments of message {rest_id}"
        response = self._get(
            what,
            f"/messages/{_segment(rest_id)}/attachments",
            params={"$select": ",".join(ATTACHMENT_FIELDS)},
        )
        attachments: list[dict[str, Any]] = self._json(response, what).get("value", [])
        return attachments

    def send_mail(self, message: OutgoingMessage) -> None:
        """Send ``message`` from the user's mailbox: one POST /me/sendMail.

        Returns when Graph accepted it (202); delivery follows on Graph's side.
        Raises GraphThrottled when Graph turned it away for now (not sent: send
        again after ``retry_after``), SendOutcomeUnknown when it may have been sent
        (look with ``find_sent`` before sending again), ConsentRequired,
        MailboxAccessDenied or GraphRequestRefused when it will not be sent, and
        the errors of a token refresh. A token refused with 401 or 403 is refreshed
        once and the message sent once more: Graph refuses those before it takes
        the message.
        """
        what = f"send resend {message.resend_key}"
        self._token.allow_one_refresh()
        try:
            response: requests.Response = self._connection.post(
                self._mailbox.build_url("/sendMail"),
                data=_send_mail_body(message),
                timeout=self._send_timeout,
                allow_redirects=False,
            )
        except requests.HTTPError as error:
            if error.response is None:
                raise self._outcome_unknown(what, error) from error
            raise self._send_refusal(what, error.response) from error
        except requests.RequestException as error:
            raise self._outcome_unknown(what, error) from error

        if not 200 <= response.status_code < 300:  # a redirect, not followed
            raise self._send_refusal(what, response)

        log.info(
            "Graph accepted resend %s from the mailbox of user %s",
            message.resend_key,
            self._user_id,
        )

    def find_sent(self, resend_key: str) -> bool:
        """Whether a message in Sent Items carries RESEND_HEADER with this key.

        Graph files a sent message's copy in Sent Items moments after accepting
        it, so False just after a send is not yet proof that none was made. Raises
        as reads do.
        """
        what = f"look for resend {resend_key} in the Sent Items"
        response = self._get(
            what,
            "/mailFolders/sentitems/messages",
            params={
                "$filter": _sent_with_header(resend_key),
                "$select": "id",
                "$top": "1",
            },
            not_found=GraphRequestRefused,
        )
        return bool(self._json(response, what).get("value"))

    def close(self) -> None:
        if self._connection.session is not None:
            self._connection.session.close()

    def __enter__(self) -> MailGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(
        self,
        what: str,
        path: str,
        params: dict[str, str],
        not_found: Callable[[], DomainError] = MessageNotFound,
    ) -> requests.Response:
        self._token.allow_one_refresh()
        try:
            response: requests.Response = self._connection.get(
                self._mailbox.build_url(path), params=params
            )
        except requests.HTTPError as error:
            if error.response is None:
                raise self._unavailable(what, error) from error
            raise self._refusal(what, error.response, not_found) from error
        except requests.RequestException as error:
            raise self._unavailable(what, error) from error

        return response

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as error:
            raise self._unavailable(what, error) from error

    def _unavailable(self, what: str, error: Exception) -> GraphUnavailable:
        log.warning("Graph failed to %s of user %s: %r", what, self._user_id, error)
        return GraphUnavailable()

    def _outcome_unknown(self, what: str, error: Exception) -> SendOutcomeUnknown:
        log.warning(
            "Graph did not answer a request to %s of user %s, which may have been "
            "carried out: %r",
            what,
            self._user_id,
            error,
        )
        return SendOutcomeUnknown()

    def _refusal(
        self,
        what: str,
        response: requests.Response,
        not_found: Callable[[], DomainError] = MessageNotFound,
    ) -> DomainError:
        """The domain error for Graph's answer to a read, logged once with its cause."""
        status, code = response.status_code, _graph_error(response)[0]
        error = _refusal_error(status, code, response, not_found)
        self._log_refusal(what, response, error)
        return error

    def _send_refusal(self, what: str, response: requests.Response) -> DomainError:
        """The domain error for Graph's answer to a send, logged once with its cause."""
        status = response.status_code
        retry_after = _retry_after(response.headers.get("Retry-After"))
        error: DomainError
        if status == 429:
            error = GraphThrottled(retry_after)
        elif status >= 500:
            error = SendOutcomeUnknown(retry_after)
        elif status == 401:
            error = ConsentRequired()  # still refused after one refresh
        elif status == 403:
            error = MailboxAccessDenied(_SEND_DENIED)
        else:
            error = GraphRequestRefused()
        self._log_refusal(what, response, error)
        return error

    def _log_refusal(
        self, what: str, response: requests.Response, error: DomainError
    ) -> None:
        code, message = _graph_error(response)
        level = logging.WARNING
        if isinstance(error, MessageNotFound):
            level = logging.INFO
        elif isinstance(error, GraphRequestRefused):
            level = logging.ERROR
        log.log(
            level,
            "Graph refused to %s of user %s: %s %s %r (retry after %s s)",
            what,
            self._user_id,
            response.status_code,
            code,
            message,
            getattr(error, "retry_after", None),
        )


def _refusal_error(
    status: int,
    code: str,
    response: requests.Response,
    not_found: Callable[[], DomainError] = MessageNotFound,
) -> DomainError:
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status == 429:
        return GraphThrottled(retry_after)

    if status >= 500:
        return GraphUnavailable(retry_after)

    if status == 401:
        return ConsentRequired()  # still refused after one refresh

    if status == 404 or code == "ErrorInvalidIdMalformed":
        return not_found()

    if status == 403:
        return MailboxAccessDenied()

    return GraphRequestRefused()


def _send_mail_body(message: OutgoingMessage) -> dict[str, Any]:
    """sendMail's request body: the message, in Graph's shape, kept in Sent Items."""
    return {
        "message": {
            "subject": message.subject,
            "body": {"contentType": "HTML", "content": message.body_html},
            "toRecipients": [_recipient(*entry) for entry in message.to],
            "ccRecipients": [_recipient(*entry) for entry in message.cc],
            "internetMessageHeaders": [
                {"name": RESEND_HEADER, "value": message.resend_key}
            ],
        },
        "saveToSentItems": True,
    }


def _recipient(address: str, name: str) -> dict[str, Any]:
    email_address = {"address": address}
    if name:
        email_address["name"] = name
    return {"emailAddress": email_address}


def _sent_with_header(resend_key: str) -> str:
    """The $filter for messages whose RESEND_HEADER is ``resend_key``."""
    literal = resend_key.replace("'", "''")  # OData's quoting inside a string
    return (
        f"singleValueExtendedProperties/any(ep: ep/id eq '{_RESEND_PROPERTY}' "
        f"and ep/value eq '{literal}')"
    )


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
