"""Sending through Graph: sendMail, Sent Items and its header filter, faults after
acceptance and usage figures in the simulator; the gateway's send_mail and
find_sent over it, through every way a send can fail."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from interactions.config import Settings
from interactions.errors import TemporarilyUnavailable
from interactions.microsoft.graph import (
    RESEND_HEADER,
    GraphRequestRefused,
    GraphThrottled,
    GraphUnavailable,
    MailboxAccessDenied,
    MailGateway,
    OutgoingMessage,
    SendOutcomeUnknown,
)
from interactions.microsoft.tokens import ConsentRequired, exchange_on_behalf_of
from simulator.graph import Graph, StoredMessage
from tests.conftest import (
    USERS,
    GraphClient,
    RunningSimulator,
    TokenSource,
    World,
    unused_port,
)

ADMIN = USERS["admin"].object_id
JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.")


# -- helpers ---------------------------------------------------------------------------


def new_key() -> str:
    return str(uuid.uuid4())


def send_mail_body(
    key: str,
    headers: list[dict[str, str]] | None = None,
    **message: Any,
) -> dict[str, Any]:
    """A sendMail body in Graph's shape, to Dana, carrying the resend header."""
    resource: dict[str, Any] = {
        "subject": "Your 2025 census, again",
        "body": {"contentType": "HTML", "content": "<p>As promised.</p>"},
        "toRecipients": [
            {
                "emailAddress": {
                    "address": "dana.rivera@northwind.example",
                    "name": "Dana Rivera",
                }
            }
        ],
        "ccRecipients": [],
        "internetMessageHeaders": (
            headers if headers is not None else [{"name": RESEND_HEADER, "value": key}]
        ),
    }
    return {"message": resource | message, "saveToSentItems": True}


def sent_with(graph: Graph, key: str, object_id: str = ADMIN) -> list[StoredMessage]:
    """The messages in the mailbox's Sent Items that carry this resend key."""
    return [m for m in graph.sent_items(object_id) if m.header(RESEND_HEADER) == key]


def resend_filter(key: str, header: str = RESEND_HEADER) -> str:
    return (
        "singleValueExtendedProperties/any(ep: ep/id eq 'String "
        f"{{00020386-0000-0000-C000-000000000046}} Name {header}' and "
        f"ep/value eq '{key}')"
    )


# -- the simulated Graph: sendMail and Sent Items --------------------------------------


def test_sent_mail_is_filed_in_sent_items_with_its_headers(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    key = new_key()
    before = datetime.now(UTC).replace(microsecond=0)

    response = graph_client.post("/me/sendMail", json=send_mail_body(key))

    assert response.status_code == 202
    assert response.content == b""
    [stored] = sent_with(simulated_graph, key)
    message = graph_client.get(
        f"/me/messages/{stored.id}",
        params={
            "$select": "subject,sentDateTime,internetMessageId,from,"
            "toRecipients,body,internetMessageHeaders,parentFolderId"
        },
    ).json()
    assert message["subject"] == "Your 2025 census, again"
    assert message["from"]["emailAddress"]["address"] == "admin@acme.test"
    assert message["toRecipients"] == [
        {
            "emailAddress": {
                "name": "Dana Rivera",
                "address": "dana.rivera@northwind.example",
            }
        }
    ]
    assert "<p>As promised.</p>" in message["body"]["content"]
    assert {"name": RESEND_HEADER, "value": key} in message["internetMessageHeaders"]
    assert message["internetMessageId"].startswith("<")
    assert datetime.fromisoformat(message["sentDateTime"]) >= before


def test_each_sent_message_gets_its_own_internet_message_id(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    keys = [new_key(), new_key()]
    for key in keys:
        graph_client.post("/me/sendMail", json=send_mail_body(key))

    ids = {sent_with(simulated_graph, key)[0].header("Message-ID") for key in keys}

    assert len(ids) == 2


def test_sending_needs_mail_send(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    key = new_key()

    response = graph_client.post(
        "/me/sendMail", json=send_mail_body(key), token=graph_client.mint("Mail.Read")
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ErrorAccessDenied"
    assert sent_with(simulated_graph, key) == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (
            {"headers": [{"name": "Interactions-Resend-Id", "value": "1"}]},
            "InvalidInternetMessageHeader",
        ),
        (
            {"headers": [{"name": "x-ok", "value": "1\r\nBcc: eve@example.org"}]},
            "InvalidInternetMessageHeader",
        ),
        ({"toRecipients": []}, "ErrorInvalidRecipients"),
        (
            {"toRecipients": [{"emailAddress": {"address": "not an address"}}]},
            "ErrorInvalidRecipients",
        ),
        ({"body": {"contentType": "rtf", "content": "{\\rtf1}"}}, "RequestBodyRead"),
    ],
)
def test_a_message_graph_would_not_send_is_refused(
    graph_client: GraphClient,
    simulated_graph: Graph,
    overrides: dict[str, Any],
    code: str,
) -> None:
    sent_before = len(simulated_graph.sent_items(ADMIN))
    sends_before = len(simulated_graph.usage.of(ADMIN).sent_at)

    response = graph_client.post(
        "/me/sendMail", json=send_mail_body(new_key(), **overrides)
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert len(simulated_graph.sent_items(ADMIN)) == sent_before
    assert len(simulated_graph.usage.of(ADMIN).sent_at) == sends_before


def test_a_message_not_saved_is_sent_but_not_filed(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    key = new_key()
    sends_before = len(simulated_graph.usage.of(ADMIN).sent_at)

    response = graph_client.post(
        "/me/sendMail", json=send_mail_body(key) | {"saveToSentItems": False}
    )

    assert response.status_code == 202
    assert sent_with(simulated_graph, key) == []
    assert len(simulated_graph.usage.of(ADMIN).sent_at) == sends_before + 1


@pytest.mark.parametrize(
    ("folder", "header"),
    [
        ("sentitems", RESEND_HEADER),
        ("SentItems", "X-Interactions-Resend-Id"),
    ],
)
def test_the_header_filter_finds_exactly_that_message(
    graph_client: GraphClient, folder: str, header: str
) -> None:
    key, other = new_key(), new_key()
    graph_client.post("/me/sendMail", json=send_mail_body(key))
    graph_client.post("/me/sendMail", json=send_mail_body(other))

    response = graph_client.get(
        f"/me/mailFolders/{folder}/messages",
        params={"$filter": resend_filter(key, header), "$select": "id,subject"},
    )

    assert response.status_code == 200
    [found] = response.json()["value"]
    assert set(found) == {"id", "subject"}
    headers = graph_client.get(
        f"/me/messages/{found['id']}", params={"$select": "internetMessageHeaders"}
    ).json()["internetMessageHeaders"]
    assert {"name": RESEND_HEADER, "value": key} in headers


def test_the_header_filter_finds_nothing_for_an_unknown_value(
    graph_client: GraphClient,
) -> None:
    response = graph_client.get(
        "/me/mailFolders/sentitems/messages",
        params={"$filter": resend_filter(new_key())},
    )

    assert response.status_code == 200
    assert response.json()["value"] == []


def test_sent_items_are_paged_with_top(graph_client: GraphClient) -> None:
    response = graph_client.get(
        "/me/mailFolders/sentitems/messages",
        params={"$top": "1", "$select": "parentFolderId"},
    )

    [message] = response.json()["value"]
    assert "@odata.nextLink" in response.json()
    inbox = graph_client.get(
        "/me/mailFolders/inbox/messages", params={"$select": "parentFolderId"}
    ).json()["value"]
    assert message["parentFolderId"] != inbox[0]["parentFolderId"]


@pytest.mark.parametrize(
    "expression",
    [
        "subject eq 'Your 2025 census, again'",
        "singleValueExtendedProperties/any(ep: ep/id eq 'String "
        "{11111111-0000-0000-C000-000000000046} Name x-a' and ep/value eq 'b')",
    ],
)
def test_other_filters_are_refused(graph_client: GraphClient, expression: str) -> None:
    response = graph_client.get(
        "/me/mailFolders/sentitems/messages", params={"$filter": expression}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidUrlQueryFilter"


def test_an_unknown_folder_is_not_found(graph_client: GraphClient) -> None:
    response = graph_client.get("/me/mailFolders/AAMkAGZvbGRlcg==/messages")

    assert response.status_code == 404


# -- the simulated Graph: failing after acceptance, and usage --------------------------


@pytest.mark.parametrize("status", [503, 504])
def test_a_fault_after_acceptance_sends_then_fails(
    graph_client: GraphClient, simulated_graph: Graph, status: int
) -> None:
    key = new_key()
    simulated_graph.faults.add(
        method="POST",
        path_contains="/sendMail",
        after_accept_status=status,
        retry_after=2,
    )

    response = graph_client.post("/me/sendMail", json=send_mail_body(key))

    assert response.status_code == status
    assert response.headers["Retry-After"] == "2"
    assert len(sent_with(simulated_graph, key)) == 1
    assert graph_client.post("/me/sendMail", json=send_mail_body(key)).ok  # used up


def test_a_fault_after_acceptance_passes_a_refusal_through(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    simulated_graph.faults.add(path_contains="/sendMail", after_accept_status=503)

    response = graph_client.post(
        "/me/sendMail", json=send_mail_body(new_key(), toRecipients=[])
    )

    assert response.status_code == 400


def test_requests_in_flight_are_counted_per_mailbox(
    running_simulator: RunningSimulator, settings: Settings, simulated_graph: Graph
) -> None:
    assert settings.microsoft_ca_bundle is not None
    editor = GraphClient(running_simulator, settings.microsoft_ca_bundle, "editor")
    simulated_graph.usage.clear(editor.user.object_id)
    simulated_graph.faults.add(
        method="GET", path_contains="/me/messages", after_accept_delay=0.3, times=3
    )
    start = threading.Barrier(3)

    def read() -> None:
        start.wait()
        editor.get("/me/messages", params={"$top": "1"})

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    usage = simulated_graph.usage.of(editor.user.object_id)
    assert usage.max_in_flight == 3
    assert usage.in_flight == 0


def test_sends_are_counted_with_their_times(
    graph_client: GraphClient, simulated_graph: Graph
) -> None:
    simulated_graph.usage.clear(ADMIN)
    before = datetime.now(UTC)

    for _ in range(2):
        graph_client.post("/me/sendMail", json=send_mail_body(new_key()))

    sent_at = simulated_graph.usage.of(ADMIN).sent_at
    assert len(sent_at) == 2
    assert before <= sent_at[0] <= sent_at[1] <= datetime.now(UTC)


def test_sent_items_usage_and_faults_are_served_over_http(
    graph_client: GraphClient, running_simulator: RunningSimulator
) -> None:
    admin = f"{running_simulator.url}/simulator"
    session, key = graph_client.session, new_key()
    session.delete(f"{admin}/mailboxes/{ADMIN}/usage", timeout=10)
    session.post(
        f"{admin}/faults",
        json={"path_contains": "/sendMail", "after_accept_status": 504},
        timeout=10,
    )

    failed = graph_client.post("/me/sendMail", json=send_mail_body(key))
    sent = session.get(f"{admin}/mailboxes/{ADMIN}/sent", timeout=10).json()
    usage = session.get(f"{admin}/mailboxes/{ADMIN}/usage", timeout=10).json()

    assert failed.status_code == 504
    carrying = [
        m
        for m in sent["value"]
        if {"name": RESEND_HEADER, "value": key} in m["internetMessageHeaders"]
    ]
    assert len(carrying) == 1
    assert usage["max_concurrent_requests"] >= 1
    assert len(usage["sends"]) == 1


# -- the gateway: send_mail and find_sent ----------------------------------------------


def outgoing(key: str, **overrides: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "subject": "RE: Northwind 401(k): 2025 census data",
        "body_html": "<p>Thank you, Dana. The corrected census is in.</p>",
        "to": [("dana.rivera@northwind.example", "Dana Rivera")],
        "cc": [("helen.park@contoso-mfg.example", "")],
        "resend_key": key,
    }
    return OutgoingMessage(**(fields | overrides))


@pytest.fixture
def impatient_mailbox(
    db: Session, settings: Settings, world: World, tokens: TokenSource
) -> Iterator[MailGateway]:
    """The admin's mailbox, with a send timeout of half a second."""
    impatient = dataclasses.replace(settings, graph_send_timeout_seconds=0.5)
    user = world.users["admin"]
    exchange_on_behalf_of(
        db, impatient, user.id, USERS["admin"].tenant.tenant_id, tokens("admin")
    )
    with MailGateway.for_user(db, impatient, user.id) as gateway:
        yield gateway


def test_the_gateway_sends_one_message(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    key = new_key()
    calls = simulated_graph.calls["graph.send_mail"]

    mailbox.send_mail(outgoing(key))

    [stored] = sent_with(simulated_graph, key)
    parsed = stored.parsed()
    assert str(parsed["Subject"]) == "RE: Northwind 401(k): 2025 census data"
    assert str(parsed["To"]) == "Dana Rivera <dana.rivera@northwind.example>"
    assert str(parsed["Cc"]) == "helen.park@contoso-mfg.example"
    body = parsed.get_body(preferencelist=("html",))
    assert body is not None
    assert "The corrected census is in." in body.get_content()
    assert simulated_graph.calls["graph.send_mail"] == calls + 1
    assert mailbox.find_sent(key) is True


def test_find_sent_is_false_for_an_unknown_key(mailbox: MailGateway) -> None:
    mailbox.send_mail(outgoing(new_key()))

    assert mailbox.find_sent(new_key()) is False


def test_find_sent_quotes_the_key(mailbox: MailGateway) -> None:
    key = f"o'neill-{new_key()}"

    mailbox.send_mail(outgoing(key))

    assert mailbox.find_sent(key) is True
    assert mailbox.find_sent(key.replace("'", "")) is False


def test_a_throttled_send_is_not_sent_and_says_when_to_try_again(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    key = new_key()
    simulated_graph.faults.add(
        method="POST", path_contains="/sendMail", status=429, retry_after=7
    )
    calls = simulated_graph.calls["graph.send_mail"]

    with pytest.raises(GraphThrottled) as throttled:
        mailbox.send_mail(outgoing(key))

    assert throttled.value.retry_after == 7
    assert not isinstance(throttled.value, SendOutcomeUnknown)
    assert simulated_graph.calls["graph.send_mail"] == calls + 1
    assert sent_with(simulated_graph, key) == []


@pytest.mark.parametrize(
    ("status", "retry_after"), [(500, None), (502, None), (503, 3), (504, None)]
)
def test_a_server_error_before_acceptance_is_an_unknown_outcome_not_retried(
    mailbox: MailGateway,
    simulated_graph: Graph,
    status: int,
    retry_after: int | None,
) -> None:
    key = new_key()
    simulated_graph.faults.add(
        method="POST",
        path_contains="/sendMail",
        status=status,
        retry_after=retry_after,
        times=1,
    )
    calls = simulated_graph.calls["graph.send_mail"]

    with pytest.raises(SendOutcomeUnknown) as unknown:
        mailbox.send_mail(outgoing(key))

    assert unknown.value.retry_after == retry_after
    assert isinstance(unknown.value, TemporarilyUnavailable)
    assert simulated_graph.calls["graph.send_mail"] == calls + 1  # never repeated
    assert sent_with(simulated_graph, key) == []
    assert mailbox.find_sent(key) is False


@pytest.mark.parametrize("status", [503, 504])
def test_a_send_accepted_then_failed_is_unknown_and_found(
    mailbox: MailGateway, simulated_graph: Graph, status: int
) -> None:
    key = new_key()
    simulated_graph.faults.add(
        method="POST", path_contains="/sendMail", after_accept_status=status
    )
    calls = simulated_graph.calls["graph.send_mail"]

    with pytest.raises(SendOutcomeUnknown):
        mailbox.send_mail(outgoing(key))

    assert simulated_graph.calls["graph.send_mail"] == calls + 1
    assert len(sent_with(simulated_graph, key)) == 1
    assert mailbox.find_sent(key) is True


def test_a_send_accepted_then_timed_out_is_unknown_and_found(
    impatient_mailbox: MailGateway, simulated_graph: Graph
) -> None:
    key = new_key()
    simulated_graph.faults.add(
        method="POST", path_contains="/sendMail", after_accept_delay=1.5
    )
    calls = simulated_graph.calls["graph.send_mail"]

    with pytest.raises(SendOutcomeUnknown):
        impatient_mailbox.send_mail(outgoing(key))

    assert simulated_graph.calls["graph.send_mail"] == calls + 1
    assert len(sent_with(simulated_graph, key)) == 1
    assert impatient_mailbox.find_sent(key) is True


def test_an_unreachable_graph_leaves_the_outcome_unknown(
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
        pytest.raises(SendOutcomeUnknown),
    ):
        gateway.send_mail(outgoing(new_key()))


def test_an_expired_token_is_refreshed_once_and_the_message_sent_once(
    mailbox: MailGateway,
    simulated_graph: Graph,
    running_simulator: RunningSimulator,
) -> None:
    key = new_key()
    simulated_graph.faults.expire_tokens(times=1)
    token_calls = running_simulator.entra.calls["entra.token"]
    calls = simulated_graph.calls["graph.send_mail"]

    mailbox.send_mail(outgoing(key))

    assert running_simulator.entra.calls["entra.token"] == token_calls + 1
    assert simulated_graph.calls["graph.send_mail"] == calls + 2  # 401, then 202
    assert len(sent_with(simulated_graph, key)) == 1


@pytest.mark.parametrize("revoked", ["refresh token", "every token"])
def test_revoked_consent_stops_the_send(
    mailbox: MailGateway,
    simulated_graph: Graph,
    running_simulator: RunningSimulator,
    revoked: str,
) -> None:
    key = new_key()
    if revoked == "refresh token":
        simulated_graph.faults.expire_tokens(times=1)
        running_simulator.entra.revoke_refresh_tokens(ADMIN)
    else:
        simulated_graph.faults.expire_tokens(times=2)

    with pytest.raises(ConsentRequired):
        mailbox.send_mail(outgoing(key))

    assert sent_with(simulated_graph, key) == []


def test_a_mailbox_that_may_not_send_is_access_denied(
    mailbox: MailGateway, simulated_graph: Graph
) -> None:
    simulated_graph.faults.add(path_contains="/sendMail", status=403, times=2)

    with pytest.raises(MailboxAccessDenied) as denied:
        mailbox.send_mail(outgoing(new_key()))

    assert "send" in denied.value.message


def test_a_message_graph_refuses_is_refused(
    mailbox: MailGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(GraphRequestRefused):
        mailbox.send_mail(outgoing(new_key(), to=[], cc=[]))

    assert "400 ErrorInvalidRecipients" in caplog.text


@pytest.mark.parametrize(
    ("status", "error"), [(429, GraphThrottled), (503, GraphUnavailable)]
)
def test_find_sent_fails_as_reads_do(
    mailbox: MailGateway,
    simulated_graph: Graph,
    status: int,
    error: type[GraphUnavailable],
) -> None:
    simulated_graph.faults.add(
        path_contains="/mailFolders/", status=status, retry_after=4
    )

    with pytest.raises(error) as failed:
        mailbox.find_sent(new_key())

    assert failed.value.retry_after == 4


def test_a_resend_key_is_one_line() -> None:
    with pytest.raises(ValueError):
        outgoing("42\r\nBcc: eve@example.org")


def test_a_send_logs_neither_tokens_nor_the_message(
    mailbox: MailGateway,
    simulated_graph: Graph,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = new_key()
    simulated_graph.faults.expire_tokens(times=1)

    mailbox.send_mail(outgoing(key))
    simulated_graph.faults.add(path_contains="/sendMail", after_accept_status=503)
    with pytest.raises(SendOutcomeUnknown):
        mailbox.send_mail(outgoing(new_key()))

    assert f"Graph accepted resend {key}" in caplog.text
    assert "Graph refused to send resend" in caplog.text
    assert "corrected census" not in caplog.text
    assert "dana.rivera@northwind.example" not in caplog.text
    assert not JWT.search(caplog.text)
    assert not re.search(r"Bearer [\w-]{20,}", caplog.text)
