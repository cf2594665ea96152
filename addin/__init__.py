"""The Outlook add-in's face: the task pane, its support page, and the sandbox.

The pane is static HTML, CSS and JavaScript; this blueprint serves it with a strict
Content-Security-Policy, hands it the few settings it needs, and serves its npm
dependencies from ``node_modules`` (installed by ``npm ci``, never copied into the
repository). In Outlook the pane loads Office.js from Microsoft's CDN.

When the identity provider is the local simulator (the embedded run and the tests),
the blueprint also serves the sandbox: a page that hosts the real pane next to a
simulated mailbox, so that the whole flow can be tried without Outlook. It signs the
chosen demo user in against the simulator and reads their demo mail through Graph,
as a script would; with a real Entra ID those routes do not exist.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from interactions.config import PROJECT_ROOT, Settings, is_local_url
from simulator.client import SimulatorSession, sign_in

log = logging.getLogger(__name__)

blueprint = Blueprint(
    "addin",
    __name__,
    url_prefix="/addin",
    static_folder="static",
    template_folder="templates",
)

OFFICE_JS_CDN = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
#: Where NAA asks for tokens; the host brokers the request, whatever the tenant.
NAA_AUTHORITY = "https://login.microsoftonline.com/common"
NODE_MODULES = PROJECT_ROOT / "node_modules"
#: The npm packages the pane loads, by the name its URLs use.
VENDOR = {
    "office-js": NODE_MODULES / "@microsoft" / "office-js" / "dist",
    "msal-browser": NODE_MODULES / "@azure" / "msal-browser" / "lib",
}
#: How many of the demo user's messages the sandbox lists.
SANDBOX_MESSAGES = 50
GRAPH_READ_SCOPE = "https://graph.microsoft.com/Mail.Read"
_MESSAGE_FIELDS = (
    "id,internetMessageId,conversationId,subject,from,toRecipients,ccRecipients,"
    "sentDateTime,receivedDateTime,body,hasAttachments"
)


def _policy(*, office_js: str, frames: str = "'none'") -> str:
    """A strict policy: our own files only, no inline script or style."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {office_js}".strip(),
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"frame-src {frames}",
            "base-uri 'none'",
            "form-action 'none'",
            "object-src 'none'",
        ]
    )


def has_sandbox(settings: Settings) -> bool:
    """Whether the identity provider is the local simulator: the demo and tests."""
    return is_local_url(settings.authority_host)


def _settings() -> Settings:
    # The app factory keeps its runtime here; the add-in reads only its settings.
    settings: Settings = current_app.extensions["interactions"].settings
    return settings


def _secure(response: Response, policy: str) -> Response:
    # Outlook frames the pane from origins that vary by cloud and client, so the
    # policy names no frame-ancestors; it only restricts what the pane may load.
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/taskpane.html")
def taskpane() -> Response:
    settings = _settings()
    sandboxed = has_sandbox(settings)
    in_sandbox = sandboxed and request.args.get("host") == "sandbox"
    config = {
        "apiBase": "/api/v1",
        "clientId": settings.client_id,
        "scope": settings.api_scope,
        "authority": NAA_AUTHORITY,
        "mode": "compose" if request.args.get("mode") == "compose" else "read",
    }
    page = render_template(
        "taskpane.html",
        config=config,
        office_js=None if sandboxed else OFFICE_JS_CDN,
        in_sandbox=in_sandbox,
    )
    cdn = "" if sandboxed else "https://appsforoffice.microsoft.com"
    return _secure(Response(page, mimetype="text/html"), _policy(office_js=cdn))


@blueprint.get("/support")
def support() -> Response:
    page = render_template("support.html", has_sandbox=has_sandbox(_settings()))
    return _secure(Response(page, mimetype="text/html"), _policy(office_js=""))


@blueprint.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str) -> Response:
    """A file of one of the pane's npm packages, as ``npm ci`` installed it."""
    folder = VENDOR.get(package)
    if folder is None:
        abort(404)

    if not folder.is_dir():
        log.error("%s is missing: run `npm ci` to install the pane's packages", folder)
        abort(404)

    return send_from_directory(folder, filename)


# -- the sandbox: only with the local simulator ----------------------------------------


@blueprint.before_request
def sandbox_only_with_simulator() -> None:
    in_sandbox = (request.endpoint or "").startswith("addin.sandbox")
    if in_sandbox and not has_sandbox(_settings()):
        abort(404)


@blueprint.get("/sandbox")
def sandbox() -> Response:
    page = render_template("sandbox.html")
    return _secure(
        Response(page, mimetype="text/html"), _policy(office_js="", frames="'self'")
    )


@blueprint.get("/sandbox/users")
def sandbox_users() -> Response:
    users = [
        {"email": user["email"], "name": user["name"], "firm": user["firm"]}
        for user in _demo_users()
    ]
    return jsonify(users=users)


@blueprint.post("/sandbox/token")
def sandbox_token() -> Response:
    """A token for our API as the demo user, for the simulated Office.auth."""
    user = _demo_user((request.get_json(silent=True) or {}).get("email", ""))
    return jsonify(access_token=_sign_in(user, user["scope"]))


@blueprint.get("/sandbox/messages")
def sandbox_messages() -> Response:
    """The demo user's messages, newest first, read from the simulated Graph."""
    settings = _settings()
    user = _demo_user(request.args.get("email", ""))
    token = _sign_in(user, GRAPH_READ_SCOPE)
    session = _simulator_session(settings)
    headers = {"Authorization": f"Bearer {token}"}
    found = _get_json(
        session,
        f"{settings.graph_url}/me/messages",
        headers,
        {"$top": str(SANDBOX_MESSAGES), "$select": _MESSAGE_FIELDS},
    )
    messages = []
    for message in found["value"]:
        attachments: list[dict[str, Any]] = []
        if message.get("hasAttachments"):
            attachments = _get_json(
                session,
                f"{settings.graph_url}/me/messages/{message['id']}/attachments",
                headers,
                {"$select": "name,contentType,size,isInline"},
            )["value"]
        messages.append(_as_office_item(message, attachments))

    return jsonify(messages=messages)


@blueprint.get("/sandbox/sent")
def sandbox_sent() -> Response:
    """The demo user's Sent Items, newest first: where a resend shows, once."""
    settings = _settings()
    user = _demo_user(request.args.get("email", ""))
    token = _sign_in(user, GRAPH_READ_SCOPE)
    found = _get_json(
        _simulator_session(settings),
        f"{settings.graph_url}/me/mailFolders/sentitems/messages",
        {"Authorization": f"Bearer {token}"},
        {"$top": str(SANDBOX_MESSAGES), "$select": "subject,toRecipients,sentDateTime"},
    )
    sent = [
        {
            "subject": message.get("subject", ""),
            "to": [
                r["emailAddress"]["address"] for r in message.get("toRecipients", [])
            ],
            "sent_at": message.get("sentDateTime"),
        }
        for message in found["value"]
    ]
    return jsonify(sent=sent)


def _simulator_session(settings: Settings) -> SimulatorSession:
    return SimulatorSession(settings.authority_host, settings.microsoft_ca_bundle)


def _get_json(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> Any:
    try:
        response = session.get(url, headers=headers, params=params)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        log.warning("the sandbox could not read %s: %s", url, error)
        abort(502, "The simulator does not answer; is it running?")


def _demo_users() -> list[dict[str, Any]]:
    settings = _settings()
    users: list[dict[str, Any]] = _get_json(
        _simulator_session(settings), f"{settings.authority_host}/demo/users", {}
    )["users"]
    return users


def _demo_user(email: str) -> dict[str, Any]:
    wanted = email.strip().lower()
    user = next((u for u in _demo_users() if u["email"] == wanted), None)
    if user is None:
        abort(404, f"No demo user {email}.")

    return user


def _sign_in(user: dict[str, Any], scope: str) -> str:
    settings = _settings()
    result = sign_in(
        settings.authority_host,
        user["tenant_id"],
        user["client_id"],
        user["email"],
        user["password"],
        [scope],
        settings.microsoft_ca_bundle,
    )
    if "access_token" not in result:
        log.warning("the sandbox could not sign in %s: %s", user["email"], result)
        abort(502, "The simulator refused to sign the demo user in.")

    token: str = result["access_token"]
    return token


def _as_office_item(
    message: dict[str, Any], attachments: list[dict[str, Any]]
) -> dict[str, Any]:
    """A Graph message in the shape the simulated Office.js item is built from."""

    def person(recipient: dict[str, Any] | None) -> dict[str, str] | None:
        if not recipient:
            return None

        address = recipient.get("emailAddress", {})
        return {
            "displayName": address.get("name", ""),
            "emailAddress": address.get("address", ""),
        }

    body = message.get("body") or {}
    return {
        "id": message["id"],
        "internetMessageId": message.get("internetMessageId", ""),
        "conversationId": message.get("conversationId", ""),
        "subject": message.get("subject", ""),
        "from": person(message.get("from")),
        "to": [person(r) for r in message.get("toRecipients", [])],
        "cc": [person(r) for r in message.get("ccRecipients", [])],
        "dateTimeCreated": message.get("sentDateTime")
        or message.get("receivedDateTime"),
        "body": {
            "contentType": body.get("contentType", "text"),
            "content": body.get("content", ""),
        },
        "attachments": [
            {
                "name": a.get("name", ""),
                "contentType": a.get("contentType", ""),
                "size": a.get("size", 0),
                "isInline": a.get("isInline", False),
            }
            for a in attachments
        ],
    }
