"""Captures at a steady rate from many users, and the ledger of what they sent.

The pacer hands each capture its moment (the i-th at ``i / rate`` seconds); a pool
of sender threads, each with its connection, posts them. A share of the captures
resubmit a message their firm captured already, as a user who presses Save twice
does. A 429 or a 503 is an answer the API may give under load or while a server
restarts: the sender waits its Retry-After and sends the same capture again, so it
counts as allowed, not as a failure. Any other 5xx is a failure.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage

from bench.common import percentile
from tests.stack.harness import Stack, StackUser

CAPTURES = "/api/v1/captures"
#: The longest a sender waits on one Retry-After.
MOST_RETRY_AFTER = 30.0
#: Give up on a capture the API keeps refusing after this long.
SEND_DEADLINE = 300.0


@dataclass
class Ledger:
    """Everything sent, by whom, and how the API answered."""

    #: The message ids each firm captured (distinct), by firm id.
    messages: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    capture_ids: list[int] = field(default_factory=list)
    resubmitted: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    #: Connections refused or reset: the request was sent again.
    connection_errors: int = 0
    #: Captures never accepted (a 5xx other than 503, or past the deadline).
    lost: list[str] = field(default_factory=list)
    accept_ms: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def distinct(self) -> int:
        return sum(len(ids) for ids in self.messages.values())

    @property
    def server_errors(self) -> int:
        return (
            sum(n for status, n in self.answers.items() if status >= 500)
            - (self.answers[503])
        )

    def merge(self, other: Ledger) -> None:
        for firm_id, ids in other.messages.items():
            self.messages[firm_id] |= ids
        self.capture_ids += other.capture_ids
        self.resubmitted += other.resubmitted
        self.answers.update(other.answers)
        self.connection_errors += other.connection_errors
        self.lost += other.lost
        self.accept_ms += other.accept_ms


@dataclass(frozen=True)
class Round:
    """One run of the load: what was asked, and what the API did."""

    asked_rate: float
    seconds: float
    #: From the first send to the last answer.
    sending_seconds: float
    ledger: Ledger

    @property
    def achieved_rate(self) -> float:
        return len(self.ledger.capture_ids) / max(self.sending_seconds, 1e-9)

    def summary(self, name: str) -> str:
        ledger = self.ledger
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(ledger.answers.items()))
        accept = ledger.accept_ms or [0.0]
        return (
            f"{name}: asked {self.asked_rate:g}/s for {self.seconds:g} s, achieved "
            f"{self.achieved_rate:.1f}/s; {len(ledger.capture_ids)} captures, "
            f"{ledger.distinct} distinct messages, {ledger.resubmitted} resubmitted; "
            f"answers {{{answers}}}; {ledger.connection_errors} connection errors; "
            f"POST p50 {percentile(accept, 0.5):.0f} ms, "
            f"p95 {percentile(accept, 0.95):.0f} ms"
        )


@dataclass(frozen=True)
class _Job:
    user: StackUser
    message_id: str
    is_resubmission: bool
    #: The message's Graph id in the user's mailbox, when the worker reads it there.
    rest_id: str | None = None


class LoadClient:
    """Sends captures as the stack's users; one client per suite run."""

    def __init__(
        self, stack: Stack, senders: int = 24, seed: int = 7, via_graph: bool = False
    ) -> None:
        """With ``via_graph``, each message is delivered to the user's simulated
        mailbox and captured by its id alone, so the worker reads it through Graph
        (and a user resubmits only their own messages)."""
        self.stack = stack
        self.senders = senders
        self.via_graph = via_graph
        self._random = random.Random(seed)
        self._mark = uuid.uuid4().hex[:8]
        self._count = 0
        #: Messages already sent, by firm id (or user id, via Graph): what a
        #: resubmission picks from.
        self._sent: dict[int, list[tuple[str, str | None]]] = defaultdict(list)

    def run(
        self,
        rate: float,
        seconds: float,
        resubmit_share: float = 0.1,
        stop: threading.Event | None = None,
    ) -> Round:
        """Send ``rate`` captures a second for ``seconds`` (or until ``stop``)."""
        jobs: queue.Queue[_Job | None] = queue.Queue()
        ledger = Ledger()
        senders = [
            threading.Thread(target=self._send_all, args=(jobs, ledger), daemon=True)
            for _ in range(self.senders)
        ]
        for sender in senders:
            sender.start()

        started = time.monotonic()
        total = int(rate * seconds)
        for number in range(total):
            if stop is not None and stop.is_set():
                break
            time.sleep(max(0.0, started + number / rate - time.monotonic()))
            jobs.put(self._job(resubmit_share))
        for _ in senders:
            jobs.put(None)
        for sender in senders:
            sender.join()

        return Round(rate, seconds, time.monotonic() - started, ledger)

    def _job(self, resubmit_share: float) -> _Job:
        user = self._random.choice(self.stack.users)
        earlier = self._sent[user.user_id if self.via_graph else user.firm_id]
        if earlier and self._random.random() < resubmit_share:
            message_id, rest_id = self._random.choice(earlier)
            return _Job(user, message_id, True, rest_id)

        self._count += 1
        message_id = f"<load-{self._mark}-{self._count}@stack.test>"
        rest_id = deliver(self.stack, user, message_id) if self.via_graph else None
        earlier.append((message_id, rest_id))
        return _Job(user, message_id, False, rest_id)

    def _send_all(self, jobs: queue.Queue[_Job | None], ledger: Ledger) -> None:
        connection = self._connect()
        mine = Ledger()
        while (job := jobs.get()) is not None:
            connection = self._send(connection, job, mine)
        connection.close()
        with ledger.lock:
            ledger.merge(mine)

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.stack.web_port, timeout=60)

    def _send(
        self, connection: http.client.HTTPConnection, job: _Job, ledger: Ledger
    ) -> http.client.HTTPConnection:
        body = json.dumps(capture_body(job.user, job.message_id, job.rest_id)).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {job.user.token}",
        }
        deadline = time.monotonic() + SEND_DEADLINE
        while time.monotonic() < deadline:
            posted = time.monotonic()
            try:
                connection.request("POST", CAPTURES, body, headers)
                response = connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                ledger.connection_errors += 1
                connection.close()
                time.sleep(0.5)
                connection = self._connect()
                continue

            ledger.answers[response.status] += 1
            if response.status in (429, 503):
                wait = float(response.headers.get("Retry-After") or 1)
                time.sleep(min(max(wait, 0.1), MOST_RETRY_AFTER))
                continue
            if response.status == 202:
                ledger.accept_ms.append((time.monotonic() - posted) * 1000)
                ledger.capture_ids.append(json.loads(answer)["id"])
                ledger.messages[job.user.firm_id].add(job.message_id)
                ledger.resubmitted += job.is_resubmission
            else:
                ledger.lost.append(f"{job.message_id}: {response.status} {answer!r}")
            return connection

        ledger.lost.append(f"{job.message_id}: not accepted in {SEND_DEADLINE:g} s")
        return connection


def deliver(
    stack: Stack, user: StackUser, message_id: str, with_attachment: bool = False
) -> str:
    """A message in the user's simulated mailbox; its Graph id."""
    message = EmailMessage()
    message["Message-ID"] = message_id
    message["From"] = "Dana Client <dana@client.test>"
    message["To"] = user.directory.email
    message["Subject"] = "Census file for the 401(k) plan"
    message["Date"] = "Mon, 30 Nov 2026 14:05:00 +0000"
    message.set_content("Please find the census attached.\n" * 20)
    if with_attachment:
        message.add_attachment(
            b"name,hours\n", maintype="text", subtype="csv", filename="census.csv"
        )
    return stack.graph.add_message(user.directory.object_id, message.as_bytes())


def capture_body(
    user: StackUser, message_id: str, rest_id: str | None = None
) -> dict[str, object]:
    """A capture as the pane sends it; with ``rest_id`` and no body, the worker reads
    the message from the user's mailbox through Graph."""
    item: dict[str, object] = {
        "internet_message_id": message_id,
        "subject": "Census file for the 401(k) plan",
        "from": {"address": "dana@client.test", "name": "Dana Client"},
        "to": [{"address": user.directory.email, "name": user.directory.name}],
        "sent_at": "2026-11-30T14:05:00+00:00",
    }
    if rest_id is None:
        item["body_html"] = "<p>Please find the census attached.</p>" * 20
        item["attachments"] = [
            {"name": "census.xlsx", "content_type": "application/vnd.ms-excel"}
        ]
    else:
        item["rest_id"] = rest_id

    return {"item": item, "type_id": user.email_type_id, "title": "Census file"}


def check_ledger(stack: Stack, ledger: Ledger) -> Counter[str]:
    """Every capture is stored or duplicate, and each firm has exactly one
    interaction per distinct message it sent; the captures' statuses."""
    assert not ledger.lost, f"captures not accepted: {ledger.lost[:5]}"
    assert ledger.server_errors == 0, f"5xx answers: {ledger.answers}"
    statuses = Counter(stack.statuses(ledger.capture_ids).values())
    assert set(statuses) <= {"stored", "duplicate"}, statuses
    assert sum(statuses.values()) == len(ledger.capture_ids)

    message_ids = [m for ids in ledger.messages.values() for m in ids]
    rows = stack.sql(
        "SELECT firm_id, internet_message_id, count(*) FROM interaction "
        "WHERE internet_message_id = ANY(:ids) GROUP BY firm_id, internet_message_id",
        ids=message_ids,
    )
    stored: dict[int, set[str]] = defaultdict(set)
    for firm_id, message_id, count in rows:
        assert count == 1, f"{count} interactions for {message_id} of firm {firm_id}"
        stored[firm_id].add(message_id)
    assert dict(stored) == dict(ledger.messages)
    assert statuses["stored"] == ledger.distinct

    return statuses


def stored_latency_ms(stack: Stack, ledger: Ledger) -> tuple[float, float]:
    """p50 and p95 of capture to stored, by the servers' clocks."""
    rows = stack.sql(
        "SELECT extract(epoch FROM updated_at - created_at) * 1000 FROM capture "
        "WHERE id = ANY(:ids) AND status = 'stored'",
        ids=ledger.capture_ids,
    )
    values = [float(row[0]) for row in rows] or [0.0]
    return percentile(values, 0.5), percentile(values, 0.95)
