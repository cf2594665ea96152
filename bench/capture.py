"""How many captures the API accepts, how soon they are stored, how fast a worker is.

``python -m bench.capture [--quick] [--database-url URL] [--redis-url URL] [--profile]``

Three cases, each held to the target its issue sets:

- **accept rate**: requests per second the capture endpoint accepts (202) under
  concurrent load, beside a baseline endpoint of the same app on the same gunicorn
  server that does only the unavoidable work (parse the same JSON body, insert it
  into one table of its own, commit). Baseline and capture rounds alternate; the
  ratio of their median rates must be at least 0.5. No worker runs meanwhile: the
  broker keeps the queued tasks, which are dropped afterwards.
- **capture to stored**: a real Celery worker on Redis, PostgreSQL; captures are
  sent one at a time at a modest pace, and each is timed from just before its POST
  to the moment a dedicated connection, polling its row about every millisecond,
  first reads it as stored. Median 50 ms, p95 150 ms.
- **worker throughput**: on one core, in this process, ``process_capture`` over the
  corpus's messages turned into what the add-in sends (the capture rows are made
  untimed first; every capture carries its body and attachment list, so no mailbox
  is opened). At least 200 messages per second. The MIME parse rates of the corpus
  are reported beside it, without a target.

The app and the worker run as in production (gunicorn sync workers, Celery prefork)
against a database of the benchmark's own, recreated on each run, and Redis db 14;
the Microsoft simulator signs the demo user in and serves the signing keys. The load
generator and the servers share the machine's cores, so absolute figures are lower
than on separate machines; the ratio much less so. Every figure is the median over
rounds. ``--profile`` adds cProfile's hot spots of a capture request (in process,
through Flask's test client) and of the worker's processing, on stderr.

Prints one JSON object per case on stdout; progress goes to stderr. Everything it
starts is stopped on exit, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import cProfile
import email
import email.policy
import http.client
import importlib
import io
import json
import logging
import os
import pstats
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from flask import Flask, request
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Identity,
    MetaData,
    Table,
    func,
    insert,
    make_url,
    select,
)
from sqlalchemy.orm import Session, sessionmaker

from bench import plots
from bench.common import (
    child_environment,
    free_port,
    log,
    median_of,
    percentile,
    recreate_database,
    running_process,
    running_simulator,
    wait_for_http,
)
from interactions.config import Settings, load_settings
from interactions.db import make_engine, make_session_factory, transaction
from interactions.demo import seed
from interactions.migrate import upgrade
from interactions.models import (
    BaseName,
    Capture,
    ContactEmail,
    Firm,
    InteractionType,
    User,
)
from interactions.queue import RecordingQueue
from simulator.client import sign_in
from simulator.directory import DirectoryUser, demo_directory
from web import build_runtime, create_app
from web.api.schemas import CaptureIn
from web.devcert import LocalTLS, ensure_local_tls
from web.run import demo_users

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "emails"
DEFAULT_DATABASE_URL = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/interactions_bench_capture"
)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"

CAPTURE_PATH = "/api/v1/captures"
BASELINE_PATH = "/bench/baseline"
#: Replaced in each request body by a message id of its own.
MESSAGE_ID_MARK = b"@@MESSAGE-ID@@"
#: The demo user every request is sent as: Summit's administrator.
DEMO_EMAIL = "avery@summit.example"

CASES = ("accept", "latency", "throughput", "parse")

#: Targets from the issue.
TARGET_RATIO = 0.5
TARGET_MEDIAN_MS = 50.0
TARGET_P95_MS = 150.0
TARGET_MESSAGES_PER_SECOND = 200.0

#: The table the baseline endpoint writes to; nothing else reads it.
baseline_table = Table(
    "bench_baseline_capture",
    MetaData(),
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)


@dataclass(frozen=True)
class RunSize:
    """How long and how often each case runs: the full run, or ``--quick``."""

    rounds: int
    load_seconds: float
    warmup_seconds: float
    latency_samples: int
    #: Seconds between the starts of two timed captures.
    latency_interval: float
    corpus_passes: int
    #: Requests per endpoint, one at a time and in process, for their own cost.
    local_calls: int


FULL = RunSize(
    rounds=5,
    load_seconds=8,
    warmup_seconds=3,
    latency_samples=60,
    latency_interval=0.1,
    corpus_passes=3,
    local_calls=300,
)
QUICK = RunSize(
    rounds=3,
    load_seconds=3,
    warmup_seconds=1.5,
    latency_samples=25,
    latency_interval=0.1,
    corpus_passes=1,
    local_calls=100,
)


# -- figures ---------------------------------------------------------------------------


def rounded(value: float, digits: int = 2) -> float:
    return round(value, digits)


# -- the app gunicorn serves -----------------------------------------------------------


def bench_app() -> Flask:
    """The product's app, with the baseline endpoint beside its API.

    gunicorn imports it as ``bench.capture:bench_app()``, with the settings in the
    environment as any web process has them.
    """
    runtime = build_runtime(load_settings())
    app = create_app(runtime)

    def baseline() -> tuple[dict[str, int], int]:
        payload = request.get_json()
        with runtime.engine.begin() as connection:
            new_id = connection.execute(
                insert(baseline_table)
                .values(payload=payload)
                .returning(baseline_table.c.id)
            ).scalar_one()
        return {"id": new_id}, 202

    app.add_url_rule(BASELINE_PATH, "bench_baseline", baseline, methods=["POST"])
    return app


# -- the stack: database, simulator, gunicorn, Celery ----------------------------------


@dataclass(frozen=True)
class Demo:
    """The demo user the requests come from, and what a capture names."""

    token: str
    firm_id: int
    user_id: int
    email_type_id: int
    contact_address: str


def prepare_database(engine: Engine) -> None:
    """Schema, the demo firms with their two years of mail, the baseline's table."""
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        seed(session, demo_users())
    baseline_table.metadata.create_all(engine)


def gunicorn_command(port: int, worker_class: str, workers: int) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--worker-class", worker_class, "--workers", str(workers)]
    if worker_class == "gthread":
        command += ["--threads", "4"]
    command += ["--log-level", "warning", "bench.capture:bench_app()"]
    return command


def celery_command() -> list[str]:
    """One worker as docker-compose runs it: prefork, two processes."""
    command = [sys.executable, "-m", "celery", "-A", "worker.app:celery_app"]
    command += ["worker", "--pool", "prefork", "-c", "2", "--loglevel", "WARNING"]
    command += ["-n", f"bench-{uuid.uuid4().hex[:8]}@%h"]
    return command


def flush_redis(redis_url: str) -> None:
    """Drop what the broker holds: tasks no worker is meant to run."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


def demo_identity(
    engine: Engine, origin: str, settings: Settings, tls: LocalTLS
) -> Demo:
    user = next(u for u in demo_directory().users if u.email == DEMO_EMAIL)
    token = access_token(origin, settings, tls, user)
    with Session(engine) as session:
        firm = session.scalars(
            select(Firm).where(Firm.entra_tenant_id == user.tenant.tenant_id)
        ).one()
        found = session.scalars(
            select(User).where(User.firm_id == firm.id, User.email == DEMO_EMAIL)
        ).one()
        email_type = session.scalars(
            select(InteractionType).where(
                InteractionType.firm_id == firm.id,
                InteractionType.base_name == BaseName.EMAIL,
            )
        ).first()
        assert email_type is not None
        address = session.scalar(
            select(ContactEmail.address)
            .where(ContactEmail.firm_id == firm.id)
            .order_by(ContactEmail.id)
            .limit(1)
        )
    return Demo(token, firm.id, found.id, email_type.id, address or "dana@example.test")


def access_token(
    origin: str, settings: Settings, tls: LocalTLS, user: DirectoryUser
) -> str:
    result = sign_in(
        origin,
        user.tenant.tenant_id,
        settings.client_id,
        user.email,
        user.password,
        [settings.api_scope],
        str(tls.ca_path),
    )
    if "access_token" not in result:
        raise RuntimeError(f"The simulator refused the sign-in: {result}")
    token: str = result["access_token"]
    return token


# -- what the add-in sends -------------------------------------------------------------


def sample_body(demo: Demo) -> bytes:
    """A capture as the pane sends it for an ordinary message of about 20 KB.

    Its HTML body and attachment list are there, so the worker needs no mailbox; its
    message id is a mark each request replaces with one of its own.
    """
    paragraph = (
        "<p>Hello Avery,</p><p>Please find attached the <b>2026 census file</b> for "
        "the 401(k) plan, with the compensation and hours of every eligible "
        "employee. Three new hires started in November; their deferral elections "
        'are on the <a href="https://example.test/forms">enrollment forms</a>.</p>'
        "<table><tr><td>Employees</td><td>148</td></tr>"
        "<tr><td>Payroll</td><td>$8,412,300</td></tr></table>\n"
    )
    item = {
        "rest_id": "AAMkAGI2TAAA=",
        "internet_message_id": MESSAGE_ID_MARK.decode(),
        "conversation_id": "AAQkAGI2conv",
        "subject": "2026 census file",
        "from": {"address": demo.contact_address, "name": "Client Contact"},
        "to": [{"address": DEMO_EMAIL, "name": "Avery Admin"}],
        "cc": [{"address": "payroll@northwind.example", "name": "Payroll"}],
        "sent_at": "2026-11-30T14:05:00+00:00",
        "body_html": paragraph * 50,
        "attachments": [
            {
                "name": "census.xlsx",
                "content_type": "application/vnd.ms-excel",
                "size": 48213,
            },
            {"name": "elections.pdf", "content_type": "application/pdf", "size": 9120},
        ],
    }
    body = {
        "item": item,
        "type_id": demo.email_type_id,
        "title": "2026 census file",
        "links": [],
    }
    return json.dumps(body).encode()


# -- (a) the accept rate ---------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One load generator process's share of a round."""

    port: int
    path: str
    body: bytes
    token: str
    threads: int
    start_at: float
    stop_at: float


@dataclass(frozen=True)
class LoadResult:
    accepted: int
    statuses: dict[int, int]
    errors: int
    latencies_ms: list[float]


def drive(load: Load) -> LoadResult:
    """Keep-alive connections from threads, each sending until the round ends.

    gunicorn's sync workers close each connection after their answer; the client
    then opens a new one, as a browser would. Only requests that start and finish
    inside the round count, so that every process counts over the same window.
    """
    results: list[LoadResult] = []
    lock = threading.Lock()
    marker = uuid.uuid4().hex[:10]

    def connection_loop(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", load.port, timeout=30)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {load.token}",
        }
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        errors = sent = 0
        time.sleep(max(0.0, load.start_at - time.time()))
        while True:
            started = time.time()
            if started >= load.stop_at:
                break
            sent += 1
            message_id = f"<bench-{marker}-{number}-{sent}@bench.test>".encode()
            body = load.body.replace(MESSAGE_ID_MARK, message_id)
            try:
                connection.request("POST", load.path, body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                connection.close()
                continue
            finished = time.time()
            if finished <= load.stop_at:
                statuses[response.status] += 1
                latencies.append((finished - started) * 1000)
        connection.close()
        with lock:
            results.append(LoadResult(statuses[202], dict(statuses), errors, latencies))

    threads = [
        threading.Thread(target=connection_loop, args=(n,)) for n in range(load.threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses: Counter[int] = Counter()
    for result in results:
        statuses.update(result.statuses)
    return LoadResult(
        sum(r.accepted for r in results),
        dict(statuses),
        sum(r.errors for r in results),
        [ms for r in results for ms in r.latencies_ms],
    )


@dataclass(frozen=True)
class Round:
    rate: float
    median_ms: float
    p95_ms: float
    statuses: dict[int, int]
    errors: int


def load_round(
    pool: ProcessPoolExecutor,
    processes: int,
    threads: int,
    port: int,
    path: str,
    body: bytes,
    token: str,
    seconds: float,
) -> Round:
    # A second to spare, so that every process has started its threads in time.
    start_at = time.time() + 1.0
    stop_at = start_at + seconds
    loads = [
        Load(port, path, body, token, threads, start_at, stop_at)
        for _ in range(processes)
    ]
    parts = list(pool.map(drive, loads))
    statuses: Counter[int] = Counter()
    for part in parts:
        statuses.update(part.statuses)
    latencies = [ms for part in parts for ms in part.latencies_ms]
    return Round(
        rate=sum(p.accepted for p in parts) / seconds,
        median_ms=median_of(latencies),
        p95_ms=percentile(latencies, 0.95) if latencies else float("nan"),
        statuses=dict(statuses),
        errors=sum(p.errors for p in parts),
    )


def accept_rate_case(
    size: RunSize, port: int, body: bytes, token: str, processes: int, threads: int
) -> dict[str, Any]:
    spawn = get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:
        # Start the load processes before the first round, untimed.
        list(pool.map(_start, range(processes)))

        def run(path: str, seconds: float) -> Round:
            return load_round(
                pool, processes, threads, port, path, body, token, seconds
            )

        log("  warming up both endpoints")
        run(BASELINE_PATH, size.warmup_seconds)
        run(CAPTURE_PATH, size.warmup_seconds)

        baseline: list[Round] = []
        capture: list[Round] = []
        for number in range(size.rounds):
            # Alternate which goes first, so that a drift of the machine's speed
            # during a pair weighs on both sides alike.
            order = [(BASELINE_PATH, baseline), (CAPTURE_PATH, capture)]
            if number % 2:
                order.reverse()
            for path, rounds in order:
                rounds.append(run(path, size.load_seconds))
            log(
                f"  round {number + 1}: baseline {baseline[-1].rate:.0f}/s, "
                f"capture {capture[-1].rate:.0f}/s "
                f"(ratio {capture[-1].rate / baseline[-1].rate:.2f})"
            )

    baseline_rate = median_of([r.rate for r in baseline])
    capture_rate = median_of([r.rate for r in capture])
    ratio = capture_rate / baseline_rate if baseline_rate else 0.0
    pair_ratios = [c.rate / b.rate for b, c in zip(baseline, capture, strict=True)]

    def side(rounds: list[Round], rate: float) -> dict[str, Any]:
        statuses: Counter[int] = Counter()
        for r in rounds:
            statuses.update(r.statuses)
        return {
            "rate": rounded(rate, 1),
            "unit": "requests/s",
            "median_ms": rounded(median_of([r.median_ms for r in rounds])),
            "p95_ms": rounded(median_of([r.p95_ms for r in rounds])),
            "round_rates": [rounded(r.rate, 1) for r in rounds],
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": sum(r.errors for r in rounds),
        }

    return {
        "name": "capture accept rate vs baseline",
        "figures": {
            "ratio": rounded(ratio, 3),
            "unit": "capture rate / baseline rate",
            "pair_ratios": [rounded(r, 3) for r in pair_ratios],
            "capture": side(capture, capture_rate),
            "baseline": side(baseline, baseline_rate),
            "connections": processes * threads,
            "rounds": size.rounds,
            "round_seconds": size.load_seconds,
        },
        "target": {"ratio_at_least": TARGET_RATIO},
        "meets_target": ratio >= TARGET_RATIO,
    }


def _start(_: int) -> int:
    # A moment's work for each process, so that the pool starts them all.
    time.sleep(0.2)
    return os.getpid()


# -- (b) capture to stored -------------------------------------------------------------


def post_capture(
    connection: http.client.HTTPConnection, body: bytes, token: str
) -> int:
    message_id = f"<bench-latency-{uuid.uuid4().hex}@bench.test>".encode()
    connection.request(
        "POST",
        CAPTURE_PATH,
        body.replace(MESSAGE_ID_MARK, message_id),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status != 202:
        raise RuntimeError(f"The capture was refused ({response.status}): {answer}")
    capture_id: int = answer["id"]
    return capture_id


@dataclass(frozen=True)
class Stored:
    """A capture seen final, and its way through the servers by their own clocks."""

    #: perf_counter when the poll first read it as final.
    seen: float
    status: str
    #: From the web's insert to the worker's claim: commit, broker, pick-up.
    to_claimed_ms: float
    #: From the worker's claim to its final update: reading, normalizing, storing.
    claimed_to_stored_ms: float


def wait_stored(
    poll: psycopg.Connection[Any], capture_id: int, timeout: float = 30.0
) -> Stored:
    """Poll the row about every millisecond until its status is final.

    The worker sets queued_at when it claims a capture and leaves it there once
    the capture is final, so the row tells where its time went.
    """
    deadline = time.perf_counter() + timeout
    while True:
        row = poll.execute(
            "SELECT status, "
            "extract(epoch FROM queued_at - created_at) * 1000, "
            "extract(epoch FROM updated_at - queued_at) * 1000 "
            "FROM capture WHERE id = %s",
            (capture_id,),
        ).fetchone()
        seen = time.perf_counter()
        if row is not None and row[0] in ("stored", "duplicate", "failed"):
            return Stored(seen, str(row[0]), float(row[1]), float(row[2]))
        if seen > deadline:
            raise RuntimeError(f"Capture {capture_id} was not stored in {timeout}s.")
        time.sleep(0.001)


def latency_case(
    size: RunSize, port: int, body: bytes, token: str, database_url: str
) -> dict[str, Any]:
    conninfo = (
        make_url(database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    rounds: list[dict[str, float]] = []
    to_claimed: list[float] = []
    claimed_to_stored: list[float] = []
    statuses: Counter[str] = Counter()
    with (
        psycopg.connect(conninfo, autocommit=True) as poll,
        _http(port) as connection,
    ):
        log("  warming up the worker")
        for _ in range(5):
            wait_stored(poll, post_capture(connection, body, token), timeout=60)

        for number in range(size.rounds):
            samples: list[float] = []
            for _ in range(size.latency_samples):
                started = time.perf_counter()
                capture_id = post_capture(connection, body, token)
                stored = wait_stored(poll, capture_id)
                samples.append((stored.seen - started) * 1000)
                to_claimed.append(stored.to_claimed_ms)
                claimed_to_stored.append(stored.claimed_to_stored_ms)
                statuses[stored.status] += 1
                time.sleep(
                    max(0.0, started + size.latency_interval - time.perf_counter())
                )
            rounds.append(
                {"median_ms": median_of(samples), "p95_ms": percentile(samples, 0.95)}
            )
            log(
                f"  round {number + 1}: median {rounds[-1]['median_ms']:.1f} ms, "
                f"p95 {rounds[-1]['p95_ms']:.1f} ms"
            )

    median_ms = median_of([r["median_ms"] for r in rounds])
    p95_ms = median_of([r["p95_ms"] for r in rounds])
    return {
        "name": "capture to stored latency",
        "figures": {
            "median_ms": rounded(median_ms),
            "p95_ms": rounded(p95_ms),
            "round_medians_ms": [rounded(r["median_ms"]) for r in rounds],
            "round_p95s_ms": [rounded(r["p95_ms"]) for r in rounds],
            "measured": "client clock, from before the POST to the first poll "
            "that reads the row as stored (one poll about every 1 ms)",
            "servers_insert_to_claim_median_ms": rounded(median_of(to_claimed)),
            "servers_insert_to_claim_p95_ms": rounded(percentile(to_claimed, 0.95)),
            "servers_claim_to_stored_median_ms": rounded(median_of(claimed_to_stored)),
            "servers_claim_to_stored_p95_ms": rounded(
                percentile(claimed_to_stored, 0.95)
            ),
            "statuses": dict(statuses),
            "samples_per_round": size.latency_samples,
            "pace_per_second": rounded(1 / size.latency_interval, 1),
            "rounds": size.rounds,
        },
        "target": {
            "median_ms_at_most": TARGET_MEDIAN_MS,
            "p95_ms_at_most": TARGET_P95_MS,
        },
        "meets_target": median_ms <= TARGET_MEDIAN_MS and p95_ms <= TARGET_P95_MS,
    }


@contextmanager
def _http(port: int) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


# -- (c) the worker on one core --------------------------------------------------------


@dataclass(frozen=True)
class CorpusMessage:
    name: str
    raw: bytes
    #: The pane's reading of the message (CaptureItem's JSON), message id left out.
    item: dict[str, Any]


def corpus_files(corpus: Path) -> list[Path]:
    return sorted((corpus / "eml").glob("*.eml")) + sorted(
        (corpus / "msg").glob("*.msg")
    )


def pane_item(path: Path, raw: bytes) -> dict[str, Any] | None:
    """What the add-in would send for this message; None without a reader for it.

    Office.js hands the pane decoded headers and the body; the product's own reader
    stands in for it here. Its body is sanitized once already, so the worker's
    sanitizing sees clean HTML where Outlook's would be messier.
    """
    reader = mail_reader("from_msg" if path.suffix.lower() == ".msg" else "from_mime")
    if reader is None:
        return None

    message = reader(raw)
    item: dict[str, Any] = {
        "subject": message.subject,
        "to": [_person(a) for a in message.to],
        "cc": [_person(a) for a in message.cc],
        "attachments": [
            {"name": a.name, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
    }
    if message.sender is not None:
        item["from"] = _person(message.sender)
    if message.sent_at is not None:
        item["sent_at"] = message.sent_at.isoformat()
    if message.body_html:
        item["body_html"] = message.body_html
    else:
        item["body_text"] = message.body_text
    return item


def _person(address: Any) -> dict[str, str]:
    return {"address": address.address, "name": address.display_name}


def mail_reader(name: str) -> Callable[[bytes], Any] | None:
    """One of the product's message readers, if the mail package has it."""
    try:
        module = importlib.import_module("interactions.mail")
    except ImportError:
        return None

    reader: Callable[[bytes], Any] | None = getattr(module, name, None)
    return reader


def load_corpus(corpus: Path) -> tuple[list[CorpusMessage], list[str]]:
    messages: list[CorpusMessage] = []
    skipped: list[str] = []
    for path in corpus_files(corpus):
        raw = path.read_bytes()
        try:
            item = pane_item(path, raw)
            if item is not None:
                CaptureIn.model_validate({"item": item})
        except Exception as error:  # reported, not fatal: the rest still counts
            skipped.append(f"{path.name}: {str(error).splitlines()[0]}")
            continue
        if item is None:
            skipped.append(f"{path.name}: no reader for this format")
            continue
        messages.append(CorpusMessage(path.name, raw, item))
    return messages, skipped


def capture_payloads(
    messages: list[CorpusMessage], demo: Demo, tag: str
) -> list[dict[str, Any]]:
    """The payloads the API would store, through its own schema, each message id new."""
    payloads = []
    for number, message in enumerate(messages):
        item = message.item | {
            "internet_message_id": f"<bench-{tag}-{number}@bench.test>",
        }
        body = CaptureIn.model_validate(
            {
                "item": item,
                "type_id": demo.email_type_id,
                "title": (item.get("subject") or "").strip()[:500] or message.name,
                "links": [],
            }
        )
        payloads.append(body.model_dump(mode="json", by_alias=True, exclude_none=True))
    return payloads


def make_captures(
    sessions: sessionmaker[Session], demo: Demo, payloads: list[dict[str, Any]]
) -> list[int]:
    with transaction(sessions) as session:
        captures = [
            Capture(
                firm_id=demo.firm_id,
                user_id=demo.user_id,
                payload=payload,
                internet_message_id=payload["item"]["internet_message_id"],
            )
            for payload in payloads
        ]
        session.add_all(captures)
        session.flush()
        return [c.id for c in captures]


def no_mailbox(session: Session, user_id: int) -> Any:
    raise RuntimeError("Every capture carries its message: no mailbox is needed.")


@contextmanager
def on_one_core() -> Iterator[int]:
    """Pin this process to one core (the last it may use) for the block."""
    allowed = os.sched_getaffinity(0)
    core = max(allowed)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, allowed)


def process_all(
    sessions: sessionmaker[Session], capture_ids: list[int]
) -> tuple[float, list[float], Counter[str]]:
    from interactions.services.capture_processing import process_capture

    durations: list[float] = []
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    for capture_id in capture_ids:
        before = time.perf_counter()
        status = process_capture(sessions, capture_id, no_mailbox)
        durations.append((time.perf_counter() - before) * 1000)
        statuses[status.value if status else "skipped"] += 1
    return time.perf_counter() - started, durations, statuses


def throughput_case(
    size: RunSize,
    engine: Engine,
    demo: Demo,
    messages: list[CorpusMessage],
    skipped: list[str],
) -> dict[str, Any]:
    sessions = make_session_factory(engine, RecordingQueue())
    rates: list[float] = []
    durations: list[float] = []
    statuses: Counter[str] = Counter()
    with on_one_core() as core:
        # One untimed pass, so that imports, statement compilation and the pool's
        # connections are not part of the first round.
        process_all(
            sessions,
            make_captures(sessions, demo, capture_payloads(messages, demo, "warm")),
        )
        for number in range(size.rounds):
            payloads = []
            for corpus_pass in range(size.corpus_passes):
                payloads += capture_payloads(messages, demo, f"r{number}p{corpus_pass}")
            capture_ids = make_captures(sessions, demo, payloads)
            elapsed, round_durations, round_statuses = process_all(
                sessions, capture_ids
            )
            rates.append(len(capture_ids) / elapsed)
            durations += round_durations
            statuses.update(round_statuses)
            log(f"  round {number + 1}: {rates[-1]:.0f} messages/s")

    rate = median_of(rates)
    return {
        "name": "worker normalize and store throughput",
        "figures": {
            "rate": rounded(rate, 1),
            "unit": "messages/s",
            "round_rates": [rounded(r, 1) for r in rates],
            "per_message_median_ms": rounded(median_of(durations)),
            "per_message_p95_ms": rounded(percentile(durations, 0.95)),
            "messages": len(messages),
            "messages_per_round": len(messages) * size.corpus_passes,
            "statuses": dict(statuses),
            "skipped": skipped,
            "core": core,
        },
        "target": {"rate_at_least": TARGET_MESSAGES_PER_SECOND, "unit": "messages/s"},
        "meets_target": rate >= TARGET_MESSAGES_PER_SECOND,
    }


def parse_rate_case(size: RunSize, corpus: Path) -> dict[str, Any]:
    """Messages per second of the MIME readers alone, on one core; no target."""
    eml = [p.read_bytes() for p in sorted((corpus / "eml").glob("*.eml"))]
    msg = [p.read_bytes() for p in sorted((corpus / "msg").glob("*.msg"))]
    readers: dict[str, tuple[Callable[[bytes], Any], list[bytes]]] = {
        "stdlib email, policy.default, parse only (eml)": (
            lambda raw: email.message_from_bytes(raw, policy=email.policy.default),
            eml,
        ),
    }
    for name, files in (("from_mime", eml), ("from_msg", msg)):
        reader = mail_reader(name)
        if reader is None:
            log(f"  interactions.mail has no {name}: not timed")
            continue
        readers[
            f"interactions.mail.{name} ({'msg' if name == 'from_msg' else 'eml'})"
        ] = (reader, files)

    figures: dict[str, Any] = {}
    with on_one_core():
        for name, (reader, files) in readers.items():
            rates = []
            failures = 0
            for _ in range(size.rounds):
                started = time.perf_counter()
                for raw in files:
                    try:
                        reader(raw)
                    except Exception:
                        failures += 1
                rates.append(len(files) / (time.perf_counter() - started))
            figures[name] = {
                "rate": rounded(median_of(rates), 1),
                "unit": "messages/s",
                "messages": len(files),
                "failures": failures // size.rounds,
            }
            log(f"  {name}: {median_of(rates):.0f} messages/s")

    return {
        "name": "MIME parse only",
        "figures": figures,
        "target": None,
        "meets_target": None,
    }


# -- profiles --------------------------------------------------------------------------


def hot_spots(profile: cProfile.Profile, title: str, limit: int = 150) -> None:
    """The functions that cost the most of their own time, and the most in all."""
    for order in ("tottime", "cumulative"):
        output = io.StringIO()
        stats = pstats.Stats(profile, stream=output)
        stats.strip_dirs().sort_stats(order).print_stats(limit)
        log(f"== {title}, by {order} ==")
        log("\n".join(output.getvalue().splitlines()[4:]))


@contextmanager
def in_process_app(environ: dict[str, str]) -> Iterator[Flask]:
    """The app gunicorn serves, built in this process with the servers' settings."""
    saved = dict(os.environ)
    os.environ.update(environ)
    try:
        app = bench_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        yield app
    finally:
        app.extensions["interactions"].engine.dispose()


def request_sender(
    app: Flask, path: str, body: bytes, token: str
) -> Callable[[], None]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send() -> None:
        message_id = f"<bench-local-{uuid.uuid4().hex}@bench.test>".encode()
        response = client.post(
            path, data=body.replace(MESSAGE_ID_MARK, message_id), headers=headers
        )
        if response.status_code != 202:
            raise RuntimeError(f"{path} answered {response.status_code}")

    return send


def in_process_costs(
    app: Flask, body: bytes, token: str, calls: int
) -> dict[str, dict[str, float]]:
    """Each endpoint's ms per request, one at a time, through Flask's test client.

    No HTTP server and no concurrency: what the handlers themselves cost, which the
    rates under load divide among the cores.
    """
    costs: dict[str, list[float]] = {BASELINE_PATH: [], CAPTURE_PATH: []}
    senders = {path: request_sender(app, path, body, token) for path in costs}
    for send in senders.values():
        for _ in range(20):
            send()
    for _ in range(calls):
        for path, send in senders.items():
            started = time.perf_counter()
            send()
            costs[path].append((time.perf_counter() - started) * 1000)

    return {
        name: {
            "median_ms": rounded(median_of(costs[path])),
            "p95_ms": rounded(percentile(costs[path], 0.95)),
        }
        for name, path in (("capture", CAPTURE_PATH), ("baseline", BASELINE_PATH))
    }


def profile_request(app: Flask, body: bytes, token: str, calls: int) -> None:
    """cProfile of capture requests in this process, through Flask's test client."""
    send = request_sender(app, CAPTURE_PATH, body, token)
    for _ in range(10):
        send()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        send()
    profile.disable()
    hot_spots(profile, "capture request")


def profile_worker(engine: Engine, demo: Demo, messages: list[CorpusMessage]) -> None:
    sessions = make_session_factory(engine, RecordingQueue())
    capture_ids = make_captures(
        sessions, demo, capture_payloads(messages, demo, "profile")
    )
    profile = cProfile.Profile()
    with on_one_core():
        profile.enable()
        process_all(sessions, capture_ids)
        profile.disable()
    hot_spots(profile, "worker process_capture")


# -- the command -----------------------------------------------------------------------


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="a PostgreSQL database of the benchmark's own; it is dropped and made",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="a Redis database of the benchmark's own; it is flushed",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--load-processes", type=int, default=2)
    parser.add_argument("--connections-per-process", type=int, default=8)
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"which to run, comma-separated, of {', '.join(CASES)}",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print cProfile hot spots on stderr"
    )
    parser.add_argument("--plot", type=Path, help="draw the results to this PNG")
    args = parser.parse_args(argv)
    args.cases = set(filter(None, args.cases.split(",")))
    unknown = args.cases - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")

    return args


@dataclass(frozen=True)
class Bench:
    """What every case shares: the settings, the database, the demo user's body."""

    args: argparse.Namespace
    size: RunSize
    scratch: Path
    engine: Engine
    environ: dict[str, str]
    demo: Demo
    body: bytes


def prepare(stack: ExitStack, args: argparse.Namespace) -> Bench:
    """A fresh database and broker, the simulator, and the demo user's token."""
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    tls = ensure_local_tls(scratch / "tls")
    log("Recreating the benchmark database and seeding the demo firms...")
    recreate_database(args.database_url)
    engine = make_engine(args.database_url)
    stack.callback(engine.dispose)
    prepare_database(engine)
    flush_redis(args.redis_url)
    stack.callback(flush_redis, args.redis_url)

    settings = load_settings({"DATABASE_URL": args.database_url})
    origin, _ = stack.enter_context(
        running_simulator(tls, settings.client_id, demo_directory())
    )
    environ = child_environment(args.database_url, args.redis_url, origin, tls, scratch)
    # The benchmark measures the capacity that the rate limits ration.
    environ.update(
        CAPTURE_RATE_PER_USER="0",
        CAPTURE_RATE_PER_FIRM="0",
        API_RATE_PER_USER="0",
        API_RATE_PER_FIRM="0",
    )
    demo = demo_identity(engine, origin, settings, tls)
    size = QUICK if args.quick else FULL
    return Bench(args, size, scratch, engine, environ, demo, sample_body(demo))


def served_cases(bench: Bench) -> list[dict[str, Any]]:
    """(a) and (b), against the app served by gunicorn, stopped when they end."""
    args = bench.args
    port = free_port()
    web_log = bench.scratch / "gunicorn.log"
    command = gunicorn_command(port, args.worker_class, args.web_workers)
    results = []
    with running_process("gunicorn", command, bench.environ, web_log) as web:
        wait_for_http(port, web, web_log)
        if "accept" in args.cases:
            results.append(accept_case(bench, port))
        if "latency" in args.cases:
            log("(b) capture to stored: one Celery worker, prefork, 2 processes")
            worker_log = bench.scratch / "celery.log"
            with running_process("celery", celery_command(), bench.environ, worker_log):
                try:
                    results.append(
                        latency_case(
                            bench.size,
                            port,
                            bench.body,
                            bench.demo.token,
                            args.database_url,
                        )
                    )
                except RuntimeError:
                    log(worker_log.read_text()[-3000:])
                    raise

    return results


def accept_case(bench: Bench, port: int) -> dict[str, Any]:
    args = bench.args
    connections = args.load_processes * args.connections_per_process
    log(
        f"(a) accept rate: {args.web_workers} {args.worker_class} workers, "
        f"{connections} connections"
    )
    accept = accept_rate_case(
        bench.size,
        port,
        bench.body,
        bench.demo.token,
        args.load_processes,
        args.connections_per_process,
    )
    # No worker ran: the tasks of those captures are not wanted.
    flush_redis(args.redis_url)
    log("  in process, one request at a time")
    with in_process_app(bench.environ) as app:
        accept["figures"]["in_process"] = in_process_costs(
            app, bench.body, bench.demo.token, bench.size.local_calls
        )
    flush_redis(args.redis_url)
    return accept


def local_cases(bench: Bench) -> list[dict[str, Any]]:
    """(c) and the parse rates, in this process on one core; and the profiles."""
    args = bench.args
    if args.profile:
        with in_process_app(bench.environ) as app:
            profile_request(app, bench.body, bench.demo.token, 300)

    results = []
    messages, skipped = load_corpus(args.corpus)
    if "throughput" in args.cases:
        log(f"(c) worker throughput on one core: {len(messages)} messages")
        results.append(
            throughput_case(bench.size, bench.engine, bench.demo, messages, skipped)
        )
    if args.profile:
        profile_worker(bench.engine, bench.demo, messages)
    if "parse" in args.cases:
        log("MIME parse rates on one core")
        results.append(parse_rate_case(bench.size, args.corpus))

    return results


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    # The simulator's request log would drown the progress lines.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Ctrl-C stops the run even when a shell started it with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)

    try:
        with ExitStack() as stack:
            bench = prepare(stack, args)
            served = args.cases & {"accept", "latency"}
            results = served_cases(bench) if served else []
            results += local_cases(bench)
    except KeyboardInterrupt:
        log("Interrupted: everything the benchmark started is stopped.")
        return 130

    print(json.dumps(results, indent=2))
    if args.plot:
        plots.capture(results, args.plot)
    missed = [r["name"] for r in results if r["meets_target"] is False]
    log(
        f"{sum(r['meets_target'] is True for r in results)} of "
        f"{sum(r['meets_target'] is not None for r in results)} targets met"
        + (f"; missed: {', '.join(missed)}" if missed else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
