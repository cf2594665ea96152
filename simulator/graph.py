"""Microsoft Graph's mail API as the product meets it, in Graph's own shapes.

Served under ``/v1.0`` so that any Graph client (O365 in the product) works against
it unchanged. Each user's mailbox is keyed by the object id in the bearer token and
starts with the demo mail of ``simulator.mailbox``; messages are kept as MIME bytes
and rendered to Graph's JSON on every read, as Exchange renders its store.

Mail sent through ``/me/sendMail`` is filed in the sender's Sent Items, where a
header filter finds it again (``simulator.odata``). Tests (in process) and scripts
(over HTTP, ``/simulator/faults``) make it misbehave on purpose: 429 with
Retry-After, 5xx, tokens taken for expired, and answers that fail after the request
was carried out; ``/simulator/mailboxes`` shows what was sent and how hard each
mailbox was used (``simulator.usage``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from simulator.entra import GRAPH_AUDIENCE, Entra
from simulator.faults import Fault, Faults
from simulator.mailbox import demo_mail
from simulator.odata import UnsupportedFilter, parse_filter
from simulator.sendmail import MessageRefused, submission
from simulator.usage import Usage

READ_SCOPES = frozenset({"Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic"})
SEND_SCOPES = frozenset({"Mail.Send"})
#: Folders by their well-known names; the mail lives in the first two.
WELL_KNOWN_FOLDERS = ("inbox", "sentitems", "drafts", "deleteditems", "outbox")
DEFAULT_PAGE_SIZE = 10

blueprint = Blueprint("graph", __name__, url_prefix="/v1.0")
admin = Blueprint("simulator_admin", __name__, url_prefix="/simulator")


# -- the mailboxes ---------------------------------------------------------------------


@dataclass
class StoredMessage:
    id: str
    mime: bytes
    folder: str
    conversation_id: str
    received_at: datetime

    @property
    def subject(self) -> str:
        return str(self.parsed()["Subject"])

    def parsed(self) -> EmailMessage:
        parsed = message_from_bytes(self.mime, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str | None:
        """The value of the message's internet header ``name`` (any case), if any."""
        value = self.parsed().get(name)
        return None if value is None else str(value)


@dataclass
class Mailbox:
    owner_id: str
    owner_name: str
    owner_email: str
    messages: dict[str, StoredMessage] = field(default_factory=dict)

    def folder_id(self, folder: str) -> str:
        return opaque("folder", self.owner_id, folder)


@dataclass
class Graph:
    """The state of the simulated Graph: mailboxes, faults, and counted calls."""

    entra: Entra
    faults: Faults = field(default_factory=Faults)
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    #: How often each route was called (faulted calls included).
    calls: Counter[str] = field(default_factory=Counter)
    #: Requests in flight and messages sent, per mailbox.
    usage: Usage = field(default_factory=Usage)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def mailbox(self, object_id: str, name: str = "", email: str = "") -> Mailbox:
        """The user's mailbox, made with the demo mail on first use."""
        with self.lock:
            if object_id not in self.mailboxes:
                user = self.entra.directory.by_object_id(object_id)
                if user is not None:
                    name, email = user.name, user.email
                mailbox = Mailbox(object_id, name, email)
                for built in demo_mail(name or email, email):
                    folder = "sentitems" if built.is_sent_by_owner else "inbox"
                    _store(mailbox, built.mime, folder, built.received_at, seeded=True)
                self.mailboxes[object_id] = mailbox

            return self.mailboxes[object_id]

    def add_message(self, object_id: str, mime: bytes, folder: str = "inbox") -> str:
        """Deliver a raw MIME message to a user's mailbox; its Graph id."""
        with self.lock:
            stored = _store(self.mailbox(object_id), mime, folder, datetime.now(UTC))

        return stored.id

    def messages(self, object_id: str) -> list[StoredMessage]:
        """A mailbox's messages, newest first, each with its Graph (REST) id."""
        with self.lock:
            stored = list(self.mailbox(object_id).messages.values())

        return sorted(stored, key=lambda m: m.received_at, reverse=True)

    def folder_messages(self, object_id: str, folder: str) -> list[StoredMessage]:
        return [m for m in self.messages(object_id) if m.folder == folder]

    def sent_items(self, object_id: str) -> list[StoredMessage]:
        """The mailbox's Sent Items folder, newest first (the demo's replies too)."""
        return self.folder_messages(object_id, "sentitems")

    def message_id(self, object_id: str, subject: str) -> str:
        """The Graph id of the user's newest message with exactly this subject."""
        for stored in self.messages(object_id):
            if stored.subject == subject:
                return stored.id

        raise KeyError(f"No message {subject!r} in the mailbox of {object_id}.")


def opaque(kind: str, *parts: str) -> str:
    """An id shaped like Exchange's: base64url, stable for the same parts."""
    seed = "|".join((kind, *parts)).encode()
    raw = b"\x00\x03\x24" + hashlib.sha256(seed).digest()
    raw += hashlib.sha256(seed + b"+").digest()[:12]
    return base64.urlsafe_b64encode(raw).decode()


def _store(
    mailbox: Mailbox,
    mime: bytes,
    folder: str,
    received_at: datetime,
    seeded: bool = False,
) -> StoredMessage:
    parsed = message_from_bytes(mime, policy=policy.default)
    internet_message_id = str(parsed.get("Message-ID", "")).strip()
    references = str(parsed.get("References", "")).split()
    in_reply_to = str(parsed.get("In-Reply-To", "")).strip()
    root = (references or [in_reply_to or internet_message_id])[0]

    # Seeded mail keeps its ids across restarts; delivered copies are each new.
    seed = internet_message_id if seeded else uuid.uuid4().hex
    stored = StoredMessage(
        opaque("message", mailbox.owner_id, seed),
        mime,
        folder,
        opaque("conversation", mailbox.owner_id, root),
        received_at,
    )
    mailbox.messages[stored.id] = stored
    return stored


# -- rendering MIME as Graph does ------------------------------------------------------

MESSAGE_PROPERTIES = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "isRead",
    "isDraft",
    "webLink",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    # Only when selected, as in Graph.
    "internetMessageHeaders",
)
ATTACHMENT_PROPERTIES = (
    "id",
    "lastModifiedDateTime",
    "name",
    "contentType",
    "size",
    "isInline",
    "contentId",
    "contentLocation",
    "contentBytes",
)


class _TextOfHtml(HTMLParser):
    """The readable text of an HTML body, a line per block."""

    BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "table"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    lines = (line.strip() for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def text_to_html(text: str) -> str:
    escaped = html.escape(text).replace("\n", "<br>\r\n")
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; '
        f'charset=utf-8"></head><body><div>{escaped}</div></body></html>'
    )


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _recipients(parsed: EmailMessage, header: str) -> list[dict[str, Any]]:
    value = parsed.get(header)
    addresses: tuple[Address, ...] = getattr(value, "addresses", ())
    return [
        {
            "emailAddress": {
                "name": address.display_name or address.addr_spec,
                "address": address.addr_spec,
            }
        }
        for address in addresses
    ]


def _bodies(parsed: EmailMessage) -> tuple[str | None, str | None]:
    """The message's plain-text and HTML bodies, whichever it has."""
    plain = parsed.get_body(preferencelist=("plain",))
    rich = parsed.get_body(preferencelist=("html",))
    return (
        plain.get_content() if isinstance(plain, EmailMessage) else None,
        rich.get_content() if isinstance(rich, EmailMessage) else None,
    )


def _attachment_parts(parsed: EmailMessage) -> list[EmailMessage]:
    bodies = {
        id(part)
        for part in (
            parsed.get_body(preferencelist=("plain",)),
            parsed.get_body(preferencelist=("html",)),
        )
        if part is not None
    }
    return [
        part
        for part in parsed.walk()
        if isinstance(part, EmailMessage)
        and not part.is_multipart()
        and id(part) not in bodies
    ]


def render_message(
    stored: StoredMessage, mailbox: Mailbox, prefer_text: bool
) -> dict[str, Any]:
    """The message resource Graph would answer, with every default property."""
    parsed = message_from_bytes(stored.mime, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    plain, rich = _bodies(parsed)
    text = plain if plain is not None else html_to_text(rich or "")
    if prefer_text:
        body = {"contentType": "text", "content": text}
    else:
        body = {"contentType": "html", "content": rich or text_to_html(text)}

    date = parsed.get("Date")
    sent_at = getattr(date, "datetime", None) or stored.received_at
    attachments = _attachment_parts(parsed)
    sender = _recipients(parsed, "From")
    received = _graph_time(stored.received_at)
    return {
        "id": stored.id,
        "createdDateTime": received,
        "lastModifiedDateTime": received,
        "receivedDateTime": received,
        "sentDateTime": _graph_time(sent_at),
        # Inline images (a logo in a signature) do not count, as in Outlook.
        "hasAttachments": any(
            part.get_content_disposition() == "attachment" for part in attachments
        ),
        "internetMessageId": str(parsed.get("Message-ID", "")).strip(),
        "subject": str(parsed.get("Subject", "")),
        "bodyPreview": " ".join(text.split())[:255],
        "importance": "normal",
        "parentFolderId": mailbox.folder_id(stored.folder),
        "conversationId": stored.conversation_id,
        "isRead": stored.folder == "sentitems",
        "isDraft": False,
        "webLink": (
            "https://outlook.office365.com/owa/?ItemID="
            f"{stored.id.replace('=', '%3D')}&exvsurl=1&viewmodel=ReadMessageItem"
        ),
        "body": body,
        "sender": sender[0] if sender else None,
        "from": sender[0] if sender else None,
        "toRecipients": _recipients(parsed, "To"),
        "ccRecipients": _recipients(parsed, "Cc"),
        "bccRecipients": _recipients(parsed, "Bcc"),
        "replyTo": _recipients(parsed, "Reply-To"),
        "internetMessageHeaders": [
            {"name": name, "value": str(value)} for name, value in parsed.items()
        ],
    }


def render_attachments(stored: StoredMessage) -> list[dict[str, Any]]:
    parsed = message_from_bytes(stored.mime, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    rendered = []
    for index, part in enumerate(_attachment_parts(parsed)):
        content = part.get_payload(decode=True) or b""
        assert isinstance(content, bytes)
        content_id = part.get("Content-ID")
        rendered.append(
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "@odata.mediaContentType": part.get_content_type(),
                "id": opaque("attachment", stored.id, str(index)),
                "lastModifiedDateTime": _graph_time(stored.received_at),
                "name": part.get_filename() or "attachment",
                "contentType": part.get_content_type(),
                "size": len(content),
                "isInline": part.get_content_disposition() != "attachment",
                "contentId": str(content_id).strip("<>") if content_id else None,
                "contentLocation": None,
                "contentBytes": base64.b64encode(content).decode(),
            }
        )

    return rendered


# -- errors, tokens and query options --------------------------------------------------


class GraphError(Exception):
    """An answer in Graph's error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def graph_error_response(error: GraphError) -> Response:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    response = jsonify(
        error={
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": now,
                "request-id": str(uuid.uuid4()),
                "client-request-id": request.headers.get(
                    "client-request-id", str(uuid.uuid4())
                ),
            },
        }
    )
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


@blueprint.errorhandler(GraphError)
def graph_error(error: GraphError) -> Response:
    return graph_error_response(error)


_EXPIRED = "Lifetime validation failed, the token is expired."


def _unauthenticated(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
    )


def _graph() -> Graph:
    state: Graph = current_app.extensions["graph"]
    return state


@blueprint.before_request
def authenticate() -> None:
    """Check the bearer token as Graph does; the caller's claims go to ``g``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthenticated("Access token is empty.")

    entra = _graph().entra
    try:
        tenant_id = jwt.decode(token, options={"verify_signature": False})["tid"]
        g.graph_claims = entra.keys.verify(
            token, GRAPH_AUDIENCE, entra.issuer(tenant_id)
        )
    except jwt.ExpiredSignatureError:
        raise _unauthenticated(_EXPIRED) from None
    except jwt.InvalidAudienceError:
        raise _unauthenticated(
            "Access token validation failure. Invalid audience."
        ) from None
    except (jwt.PyJWTError, KeyError, StopIteration):
        raise _unauthenticated("Access token validation failure.") from None


def _require(scopes: frozenset[str]) -> None:
    granted = set(str(g.graph_claims.get("scp", "")).split())
    if not granted & scopes:
        raise GraphError(
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        )


def _mailbox() -> Mailbox:
    claims = g.graph_claims
    return _graph().mailbox(
        claims["oid"], claims.get("name", ""), claims.get("preferred_username", "")
    )


def _selected(known: tuple[str, ...]) -> list[str] | None:
    raw = request.args.get("$select")
    if not raw:
        return None

    by_lower = {name.lower(): name for name in known}
    selected = []
    for name in (part.strip() for part in raw.split(",")):
        if name.lower() not in by_lower:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type "
                "'microsoft.graph.message'.",
            )
        selected.append(by_lower[name.lower()])

    return selected


def _project(
    resource: dict[str, Any], selected: list[str] | None, always: tuple[str, ...]
) -> dict[str, Any]:
    if selected is None:
        return {k: v for k, v in resource.items() if k != "internetMessageHeaders"}

    return {k: v for k, v in resource.items() if k in always or k in selected}


def _prefers_text() -> bool:
    prefer = request.headers.get("Prefer", "")
    return bool(re.search(r'outlook\.body-content-type\s*=\s*"?text"?', prefer, re.I))


def _top() -> int:
    raw = request.args.get("$top", str(DEFAULT_PAGE_SIZE))
    if not raw.isdigit() or not 0 < int(raw) <= 1000:
        raise GraphError(400, "BadRequest", f"Invalid $top value '{raw}'.")

    return int(raw)


def _filtered(messages: list[StoredMessage]) -> list[StoredMessage]:
    raw = request.args.get("$filter")
    if raw is None:
        return messages

    try:
        wanted = parse_filter(raw)
    except UnsupportedFilter as error:
        raise GraphError(400, "ErrorInvalidUrlQueryFilter", str(error)) from None

    return [m for m in messages if wanted.matches(m.parsed())]


def _page(messages: list[StoredMessage], context: str) -> Response:
    messages = _filtered(messages)
    top = _top()
    skip_raw = request.args.get("$skip", "0")
    skip = int(skip_raw) if skip_raw.isdigit() else 0
    selected = _selected(MESSAGE_PROPERTIES)
    mailbox = _mailbox()
    page = messages[skip : skip + top]
    document: dict[str, Any] = {
        "@odata.context": f"{request.host_url}v1.0/$metadata#{context}",
        "value": [
            _project(render_message(m, mailbox, _prefers_text()), selected, ("id",))
            for m in page
        ],
    }
    if skip + top < len(messages):
        arguments = request.args.to_dict() | {"$skip": str(skip + top)}
        document["@odata.nextLink"] = f"{request.base_url}?{urlencode(arguments)}"

    response = jsonify(document)
    if _prefers_text():
        response.headers["Preference-Applied"] = 'outlook.body-content-type="text"'
    return response


def _check_id(graph_id: str) -> None:
    try:
        base64.urlsafe_b64decode(graph_id.encode())
    except (binascii.Error, ValueError):
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from None


def _not_found() -> GraphError:
    return GraphError(
        404, "ErrorItemNotFound", "The specified object was not found in the store."
    )


def _find(message_id: str) -> StoredMessage:
    _check_id(message_id)
    stored = _mailbox().messages.get(message_id)
    if stored is None:
        raise _not_found()

    return stored


def _folder(name_or_id: str) -> str:
    """The folder a well-known name (in any case) or a folder id names."""
    if name_or_id.lower() in WELL_KNOWN_FOLDERS:
        return name_or_id.lower()

    mailbox = _mailbox()
    for folder in WELL_KNOWN_FOLDERS:
        if mailbox.folder_id(folder) == name_or_id:
            return folder

    _check_id(name_or_id)
    raise _not_found()


# -- routes ----------------------------------------------------------------------------


@blueprint.get("/me/messages")
def list_messages() -> Response:
    _require(READ_SCOPES)
    oid = g.graph_claims["oid"]
    return _page(_graph().messages(oid), f"users('{oid}')/messages")


@blueprint.get("/me/mailFolders/<folder_id>/messages")
def list_folder_messages(folder_id: str) -> Response:
    _require(READ_SCOPES)
    oid = g.graph_claims["oid"]
    folder = _folder(folder_id)
    return _page(
        _graph().folder_messages(oid, folder),
        f"users('{oid}')/mailFolders('{folder_id}')/messages",
    )


@blueprint.post("/me/sendMail")
def send_mail() -> Response:
    """Send as the token's user: 202 and no body; the copy goes to Sent Items."""
    _require(SEND_SCOPES)
    mailbox = _mailbox()
    sent_at = datetime.now(UTC)
    try:
        sent = submission(
            request.get_json(silent=True),
            mailbox.owner_name,
            mailbox.owner_email,
            sent_at,
        )
    except MessageRefused as refused:
        raise GraphError(400, refused.code, refused.message) from None

    state = _graph()
    with state.lock:
        if sent.save_to_sent_items:
            _store(mailbox, sent.mime, "sentitems", sent_at)
    state.usage.record_send(mailbox.owner_id, sent_at)
    return Response(status=202)


@blueprint.get("/me/messages/<message_id>")
def get_message(message_id: str) -> Response:
    _require(READ_SCOPES)
    stored = _find(message_id)
    resource = render_message(stored, _mailbox(), _prefers_text())
    document = {
        "@odata.context": (
            f"{request.host_url}v1.0/$metadata#users('{g.graph_claims['oid']}')"
            "/messages/$entity"
        ),
        **_project(resource, _selected(MESSAGE_PROPERTIES), ("id",)),
    }
    response = jsonify(document)
    if _prefers_text():
        response.headers["Preference-Applied"] = 'outlook.body-content-type="text"'
    return response


@blueprint.get("/me/messages/<message_id>/$value")
def get_mime(message_id: str) -> Response:
    _require(READ_SCOPES)
    return Response(_find(message_id).mime, mimetype="text/plain")


@blueprint.get("/me/messages/<message_id>/attachments")
def list_attachments(message_id: str) -> Response:
    _require(READ_SCOPES)
    stored = _find(message_id)
    selected = _selected(ATTACHMENT_PROPERTIES)
    return jsonify(
        {
            "@odata.context": (
                f"{request.host_url}v1.0/$metadata#users('{g.graph_claims['oid']}')"
                f"/messages('{message_id}')/attachments"
            ),
            "value": [
                _project(a, selected, ("@odata.type", "@odata.mediaContentType", "id"))
                for a in render_attachments(stored)
            ],
        }
    )


# -- faults, counting, and their HTTP interface ----------------------------------------


def before_each_request() -> Response | None:
    """Count Graph's calls, then answer with a fault in force, if one matches.

    A fault that fails only after the request is carried out waits in ``g`` for
    ``after_each_request``.
    """
    if request.path.startswith(admin.url_prefix or "/simulator"):
        return None

    state = _graph()
    if request.blueprint == blueprint.name:
        state.calls[request.endpoint or ""] += 1
        owner = _token_owner()
        if owner is not None:
            state.usage.enter(owner)
            g.in_flight_for = owner

    fault = state.faults.take(request.method, request.path)
    if fault is None:
        return None

    if fault.is_after_accept:
        g.after_accept_fault = fault
        return None

    return _fault_response(fault, fault.status)


def after_each_request(response: Response) -> Response:
    """Lose the answer to a request carried out, as an after-acceptance fault says."""
    fault: Fault | None = g.pop("after_accept_fault", None)
    if fault is None or not 200 <= response.status_code < 300:
        return response

    if fault.after_accept_delay > 0:
        time.sleep(fault.after_accept_delay)
    if fault.after_accept_status is None:
        return response

    return _fault_response(fault, fault.after_accept_status)


def end_of_request(_error: BaseException | None) -> None:
    owner: str | None = g.pop("in_flight_for", None)
    if owner is not None:
        _graph().usage.leave(owner)


def _token_owner() -> str | None:
    """The object id in the bearer token, unchecked: whose mailbox is asked."""
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        owner = jwt.decode(token, options={"verify_signature": False}).get("oid")
    except jwt.PyJWTError:
        return None

    return owner if isinstance(owner, str) else None


def _fault_response(fault: Fault, status: int) -> Response:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if request.path.startswith(blueprint.url_prefix or "/v1.0"):
        if fault.expired_token:
            error = _unauthenticated(_EXPIRED)
            error.headers.update(headers)
        else:
            error = GraphError(
                status,
                _GRAPH_CODES.get(status, "UnknownError"),
                _GRAPH_MESSAGES.get(status, "An error occurred."),
                headers,
            )
        return graph_error_response(error)

    # Entra's token endpoint and discovery answer in OAuth's error shape.
    response = jsonify(
        error="temporarily_unavailable" if status >= 429 else "invalid_request",
        error_description="AADSTS90033: A transient error has occurred. "
        "Please try again.",
        error_codes=[90033],
    )
    response.status_code = status
    response.headers.update(headers)
    return response


_GRAPH_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "ErrorAccessDenied",
    404: "ErrorItemNotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_GRAPH_MESSAGES = {
    401: "Access token validation failure.",
    403: "Access is denied. Check credentials and try again.",
    404: "The specified object was not found in the store.",
    429: "Application is over its MailboxConcurrency limit.",
    503: "The service is temporarily unavailable. Please try again later.",
    504: "The request timed out.",
}


@admin.get("/faults")
def list_faults() -> Response:
    return jsonify(faults=[asdict(f) for f in _graph().faults.listed()])


@admin.post("/faults")
def add_fault() -> tuple[Response, int]:
    """Add a fault: ``{"status": 429, "path_contains": "/messages/", ...}``.

    ``{"after_accept_status": 503, "path_contains": "/sendMail"}`` sends the
    message and then answers 503; ``"after_accept_delay": 5`` answers 5 s late.
    """
    payload = request.get_json(silent=True) or {}
    allowed = {
        "status",
        "method",
        "path_contains",
        "retry_after",
        "times",
        "after_accept_status",
        "after_accept_delay",
    }
    if payload.get("expired_token"):
        fault = _graph().faults.expire_tokens(payload.get("times", 1))
    else:
        fault = _graph().faults.add(
            **{key: value for key, value in payload.items() if key in allowed}
        )

    return jsonify(asdict(fault)), 201


@admin.delete("/faults")
def clear_faults() -> tuple[str, int]:
    _graph().faults.clear()
    return "", 204


@admin.get("/mailboxes/<object_id>/sent")
def list_sent(object_id: str) -> Response:
    """A mailbox's Sent Items as Graph renders them, with their internet headers."""
    state = _graph()
    mailbox = state.mailbox(object_id)
    return jsonify(
        value=[
            render_message(stored, mailbox, prefer_text=False)
            for stored in state.sent_items(object_id)
        ]
    )


@admin.get("/mailboxes/<object_id>/usage")
def mailbox_usage(object_id: str) -> Response:
    """The most requests the mailbox had in flight at once, and its sends' times."""
    return jsonify(_graph().usage.of(object_id).as_json())


@admin.delete("/mailboxes/<object_id>/usage")
def clear_mailbox_usage(object_id: str) -> tuple[str, int]:
    _graph().usage.clear(object_id)
    return "", 204


def init_app(app: Flask, entra: Entra) -> Graph:
    """Register Graph, its state, and the hooks for faults and usage on the app."""
    state = Graph(entra)
    app.extensions["graph"] = state
    app.before_request(before_each_request)
    app.after_request(after_each_request)
    app.teardown_request(end_of_request)
    app.register_blueprint(blueprint)
    app.register_blueprint(admin)
    return state
