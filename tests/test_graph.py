"""The simulated Graph in Graph's own shapes, and the mail gateway (O365) over it:
messages, MIME, attachments, and every way a call fails."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy.orm import Session

from interactions.config import Settings
from interactions.errors import TemporarilyUnavailable
from interactions.microsoft import graph as graph_module
from interactions.microsoft.graph import (
    GraphThrottled,
    GraphUnavailable,
    MailboxAccessDenied,
    MailGateway,
    MessageNotFound,
)
from interactions.microsoft.tokens import ConsentRequired, exchange_on_behalf_of
from simulator.graph import Graph
from simulator.mailbox import DEMO_CORRESPONDENTS, DEMO_MESSAGES
from tests.conftest import (
    USERS,
    GraphClient,
    RunningSimulator,
    TokenSource,
    World,
    unused_port,
)

# -- helpers ---------------------------------------------------------------------------


def message_id_of(graph: Graph, handle: str, subject: str) -> str:
    """The Graph id of a user's demo message, by its exact subject."""
    return graph.message_id(USERS[handle].object_id, subject)


#: A JWT: three base64url parts, the first a JSON object ('{"' is 'eyJ').
JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.")

CENSUS = "Northwind 401(k): 2025 census data"
FORM_5500 = "Form 5500 signature \N{EN DASH} Tailspin Logistics"
YEAR_END = "Year-end data request checklist"


# -- the simulated Graph: the demo mailbox ---------------------------------------------


def test_every_user_has_the_demo_mail(graph_client: GraphClient) -> None:
    response = graph_client.get("/me/messages", params={"$top": "100"})

    assert response.status_code == 200
    subjects = [m["subject"] for m in response.json()["value"]]
    assert len(subjects) >= len(DEMO_MESSAGES)
    assert "Aportaciones de diciembre \N{EN DASH} Panadería Álvarez 401(k)" in subjects


def test_messages_come_in_pages(graph_client: GraphClient) -> None:
    first = graph_client.get("/me/messages", params={"$top": "5"}).json()
    second = graph_client.get(first["@odata.nextLink"]).json()

    assert len(first["value"]) == 5
    assert not {m["id"] for m in first["value"]} & {m["id"] for m in second["value"]}


def test_a_message_has_graphs_shape(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)

    message = graph_client.get(f"/me/messages/{message_id}").json()

    assert message["id"] == message_id
    assert message["internetMessageId"].startswith("<")
    assert message["from"] == {
        "emailAddress": {
            "name": "Dana Rivera",
            "address": "dana.rivera@northwind.example",
        }
    }
    assert message["toRecipients"][0]["emailAddress"]["address"] == "admin@acme.test"
    assert message["body"]["contentType"] == "html"
    assert message["hasAttachments"] is True
    assert message["sentDateTime"].endswith("Z")
    assert message["bodyPreview"].startswith("Hi, Attached is our employee census")
    assert "ItemID=" in message["webLink"]
    assert message["parentFolderId"]


def test_select_returns_only_what_was_asked(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)

    message = graph_client.get(
        f"/me/messages/{message_id}", params={"$select": "subject,conversationId"}
    ).json()

    assert set(message) == {"@odata.context", "id", "subject", "conversationId"}


def test_an_unknown_property_is_refused(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)

    response = graph_client.get(
        f"/me/messages/{message_id}", params={"$select": "subject,colour"}
    )

    assert response.status_code == 400
    assert "colour" in response.json()["error"]["message"]


def test_prefer_text_body(graph_client: GraphClient, simulated_graph: Graph) -> None:
    message_id = message_id_of(simulated_graph, "admin", FORM_5500)

    response = graph_client.get(
        f"/me/messages/{message_id}",
        headers={"Prefer": 'outlook.body-content-type="text"'},
    )

    assert response.json()["body"]["contentType"] == "text"
    assert "<" not in response.json()["body"]["content"]
    assert response.headers["Preference-Applied"] == 'outlook.body-content-type="text"'


def test_a_thread_shares_one_conversation(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    thread = graph_client.get(
        "/me/messages", params={"$top": "100", "$select": "subject,conversationId"}
    ).json()["value"]
    census = {m["conversationId"] for m in thread if CENSUS in m["subject"]}
    others = {m["conversationId"] for m in thread if CENSUS not in m["subject"]}

    assert len(census) == 1
    assert not census & others


def test_one_correspondent_writes_from_two_addresses(
    graph_client: GraphClient,
) -> None:
    senders = {
        m["from"]["emailAddress"]["address"]
        for m in graph_client.get(
            "/me/messages", params={"$top": "100", "$select": "from"}
        ).json()["value"]
    }
    dana = {
        address for name, address, _ in DEMO_CORRESPONDENTS if name == "Dana Rivera"
    }

    assert len(dana) == 2
    assert dana <= senders


def test_value_is_the_mime_of_the_message(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", YEAR_END)

    mime = graph_client.get(f"/me/messages/{message_id}/$value").content
    parsed = message_from_bytes(mime, policy=policy.default)

    assert str(parsed["Subject"]) == YEAR_END
    assert isinstance(parsed, EmailMessage)
    assert [part.get_filename() for part in parsed.iter_attachments()] == [
        "Year-end data checklist.pdf",
        "Plan sponsor questionnaire.docx",
    ]


def test_attachments_are_listed_with_metadata(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", YEAR_END)

    attachments = graph_client.get(
        f"/me/messages/{message_id}/attachments",
        params={"$select": "id,name,contentType,size,isInline"},
    ).json()["value"]

    assert [a["name"] for a in attachments] == [
        "Year-end data checklist.pdf",
        "Plan sponsor questionnaire.docx",
    ]
    assert all(
        a["@odata.type"] == "#microsoft.graph.fileAttachment" for a in attachments
    )
    assert all("contentBytes" not in a and a["size"] > 0 for a in attachments)


def test_an_inline_logo_is_not_an_attachment_to_show(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", FORM_5500)

    message = graph_client.get(f"/me/messages/{message_id}").json()
    attachments = graph_client.get(f"/me/messages/{message_id}/attachments").json()

    assert message["hasAttachments"] is False
    assert [(a["name"], a["isInline"]) for a in attachments["value"]] == [
        ("logo.png", True)
    ]
    assert attachments["value"][0]["contentId"] in message["body"]["content"]


def test_a_message_added_in_a_test_is_served(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    mime = (
        b"From: Ops <ops@example.org>\r\nTo: admin@acme.test\r\n"
        b"Subject: Added by a test\r\nMessage-ID: <added@example.org>\r\n"
        b"Date: Mon, 01 Dec 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
    )

    message_id = simulated_graph.add_message(USERS["admin"].object_id, mime)
    message = graph_client.get(f"/me/messages/{message_id}").json()

    assert message["subject"] == "Added by a test"
    assert message["body"]["content"].count("Hello.") == 1
    assert graph_client.get(f"/me/messages/{message_id}/$value").content == mime


def test_another_users_message_is_not_found(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "editor", CENSUS)

    response = graph_client.get(f"/me/messages/{message_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ErrorItemNotFound"


# -- the simulated Graph: tokens and faults --------------------------------------------


def test_an_expired_token_is_refused_as_graph_does(graph_client: GraphClient) -> None:
    token = graph_client.mint("Mail.Read", exp=int(time.time()) - 60)

    response = graph_client.get("/me/messages", token=token)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"] == "Lifetime validation failed, the token is expired."


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "api://someone-else"}, {"iss": "https://login.example/evil/v2.0"}],
)
def test_a_token_for_something_else_is_refused(
    graph_client: GraphClient, overrides: dict[str, Any]
) -> None:
    token = graph_client.mint("Mail.Read", **overrides)

    response = graph_client.get("/me/messages", token=token)

    assert response.status_code == 401


def test_reading_needs_a_mail_scope(graph_client: GraphClient) -> None:
    response = graph_client.get("/me/messages", token=graph_client.mint("User.Read"))

    assert response.status_code == 403


def test_faults_can_be_set_over_http(
    graph_client: GraphClient, running_simulator: RunningSimulator
) -> None:
    faults = f"{running_simulator.url}/simulator/faults"
    fault = {
        "status": 429,
        "path_contains": "/me/messages",
        "retry_after": 3,
        "times": 1,
    }

    added = graph_client.session.post(faults, json=fault, timeout=10)
    throttled = graph_client.get("/me/messages")
    served = graph_client.get("/me/messages")

    assert added.status_code == 201
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert served.status_code == 200


def test_faults_can_be_cleared_over_http(
    graph_client: GraphClient, running_simulator: RunningSimulator
) -> None:
    faults = f"{running_simulator.url}/simulator/faults"
    graph_client.session.post(faults, json={"expired_token": True, "times": None})

    assert graph_client.get("/me/messages").status_code == 401
    assert graph_client.session.delete(faults, timeout=10).status_code == 204
    assert graph_client.session.get(faults, timeout=10).json() == {"faults": []}
    assert graph_client.get("/me/messages").status_code == 200


# -- the gateway -----------------------------------------------------------------------


def test_the_gateway_reads_a_message(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)

    message = mailbox.get_message(message_id)

    assert message["subject"] == CENSUS
    assert message["from"]["emailAddress"]["name"] == "Dana Rivera"
    assert message["body"]["contentType"] == "html"
    for field in ("internetMessageId", "conversationId", "sentDateTime"):
        assert message[field]
    assert message["hasAttachments"] is True
    assert "importance" not in message  # only the selected fields


def test_the_gateway_lists_attachments_without_content(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", YEAR_END)

    attachments = mailbox.list_attachments(message_id)

    assert [a["name"] for a in attachments] == [
        "Year-end data checklist.pdf",
        "Plan sponsor questionnaire.docx",
    ]
    assert all("contentBytes" not in a for a in attachments)
    assert {"id", "contentType", "size", "isInline"} <= set(attachments[0])


def test_throttling_surfaces_with_retry_after_and_is_not_retried_inside(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)
    simulated_graph.faults.add(
        method="GET", path_contains="/messages/", status=429, retry_after=7, times=2
    )
    calls = simulated_graph.calls["graph.get_message"]

    with pytest.raises(GraphThrottled) as throttled:
        mailbox.get_message(message_id)

    assert throttled.value.retry_after == 7
    assert isinstance(throttled.value, TemporarilyUnavailable)
    assert simulated_graph.calls["graph.get_message"] == calls + 1


@pytest.mark.parametrize(
    ("status", "retry_after"), [(500, None), (503, 2), (504, None)]
)
def test_server_errors_are_transient(
    mailbox: MailGateway,
    simulated_graph: Graph,
    status: int,
    retry_after: int | None,
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)
    simulated_graph.faults.add(
        path_contains="/messages/", status=status, retry_after=retry_after
    )

    with pytest.raises(GraphUnavailable) as unavailable:
        mailbox.get_message(message_id)

    assert not isinstance(unavailable.value, GraphThrottled)
    assert unavailable.value.retry_after == retry_after
    assert mailbox.get_message(message_id)["subject"] == CENSUS  # then it passes


def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(
    mailbox: MailGateway,
    simulated_graph: Graph,
    running_simulator: RunningSimulator,
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)
    simulated_graph.faults.expire_tokens(times=1)
    token_calls = running_simulator.entra.calls["entra.token"]
    calls = simulated_graph.calls["graph.get_message"]

    message = mailbox.get_message(message_id)

    assert message["subject"] == CENSUS
    assert running_simulator.entra.calls["entra.token"] == token_calls + 1
    assert simulated_graph.calls["graph.get_message"] == calls + 2


def test_a_token_refused_after_a_refresh_needs_consent(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)
    simulated_graph.faults.expire_tokens(times=2)

    with pytest.raises(ConsentRequired):
        mailbox.get_message(message_id)


def test_a_refused_mailbox_is_access_denied(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)
    simulated_graph.faults.add(path_contains="/messages/", status=403, times=2)

    with pytest.raises(MailboxAccessDenied):
        mailbox.get_message(message_id)


@pytest.mark.parametrize("rest_id", ["AAMkAGNvbmUtbm90LWhlcmU=", "not*base64/at+all"])
def test_a_missing_message_is_not_found(mailbox: MailGateway, rest_id: str) -> None:
    with pytest.raises(MessageNotFound) as missing:
        mailbox.get_message(rest_id)

    assert "no longer in your mailbox" in missing.value.message
    assert missing.value.status == 404


def test_an_unreachable_graph_is_transient(
    db: Session, settings: Settings, world: World, tokens: TokenSource
) -> None:
    user = world.users["admin"]
    exchange_on_behalf_of(
        db, settings, user.id, USERS["admin"].tenant.tenant_id, tokens("admin")
    )
    nowhere = dataclasses.replace(
        settings, graph_url=f"https://127.0.0.1:{unused_port()}/v1.0"
    )

    with (
        MailGateway.for_user(db, nowhere, user.id) as gateway,
        pytest.raises(GraphUnavailable),
    ):
        gateway.get_message("AAMkAGE=")


def test_a_read_that_takes_too_long_is_transient(
    mailbox: MailGateway,
    simulated_graph: Graph,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)
    monkeypatch.setattr(graph_module, "TIMEOUT", (3.05, 0.3))
    simulated_graph.faults.add(
        method="GET", path_contains="/messages/", after_accept_delay=1
    )

    with pytest.raises(GraphUnavailable):
        mailbox.get_message(message_id)


def test_without_a_token_cache_the_user_must_sign_in(
    db: Session, settings: Settings, world: World
) -> None:
    with pytest.raises(ConsentRequired):
        MailGateway.for_user(db, settings, world.users["reader"].id)


def test_a_ca_bundle_in_the_environment_does_not_override_ours(
    mailbox: MailGateway,
    simulated_graph: Graph,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    bogus = tmp_path / "bundle.pem"
    bogus.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bogus))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(bogus))
    message_id = message_id_of(simulated_graph, "admin", CENSUS)

    assert mailbox.get_message(message_id)["subject"] == CENSUS


def test_no_token_reaches_the_log(
    mailbox: MailGateway,
    simulated_graph: Graph,
    running_simulator: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    message_id = message_id_of(simulated_graph, "admin", CENSUS)
    simulated_graph.faults.expire_tokens(times=1)
    caplog.set_level(logging.DEBUG)

    mailbox.get_message(message_id)  # with a refresh on the way
    simulated_graph.faults.add(path_contains="/messages/", status=429, retry_after=1)
    with pytest.raises(GraphThrottled):
        mailbox.get_message(message_id)

    assert "Session default headers" in caplog.text  # O365 logs them, masked
    assert "Graph refused to read message" in caplog.text
    assert not JWT.search(caplog.text)
    assert not re.search(r"Bearer [\w-]{20,}", caplog.text)
    for refresh_token in running_simulator.entra.refresh_tokens:
        assert refresh_token not in caplog.text


def test_a_refusal_is_logged_once(
    mailbox: MailGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    with pytest.raises(MessageNotFound):
        mailbox.get_message("AAMkAGNvbmUtbm90LWhlcmU=")

    assert [r.name for r in caplog.records if r.name.startswith(("O365", "inter"))] == [
        "interactions.microsoft.graph"
    ]
    assert "404 ErrorItemNotFound" in caplog.text
