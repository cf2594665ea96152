"""Browser tests: the real task pane in Debian's Chromium, headless, in the sandbox.

The app runs in a thread on a local port, inside the test's rolled-back transaction;
the sandbox page hosts the pane beside the simulated mailbox of a test user, whose
tokens and mail come from the running simulator. Captures the pane sends are really
processed: the test hands them to the worker's service when it chooses to, so that
each state the pane shows can be seen.

Screenshots go to ``build/browser-artifacts`` (or BROWSER_ARTIFACTS); the run prints
where. Without Chromium the tests are skipped, unless REQUIRE_SERVICES=1 (CI), where
its absence fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from interactions.microsoft.graph import MessageNotFound
from interactions.models import CaptureStatus
from interactions.queue import RecordingQueue
from interactions.services.capture_processing import Mailbox, process_capture
from interactions.services.captures import PROCESS_TASK
from tests.conftest import USERS

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("BROWSER_ARTIFACTS")
    or Path(__file__).resolve().parents[2] / "build" / "browser-artifacts"
)
#: Long enough for a slow CI machine, short enough to fail a hung pane quickly.
TIMEOUT_MS = 15_000


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser test screenshots: {ARTIFACTS}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        reason = (
            f"Chromium is not installed at {CHROMIUM} "
            "(apt-get install chromium, or set CHROMIUM_PATH)."
        )
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} It is required (REQUIRE_SERVICES=1).")
        pytest.skip(reason)

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture
def served(app: Flask) -> Iterator[Served]:
    """The test's app on a local port; requests and the worker take turns."""
    lock = threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # The app and the worker share the test's one database connection.
        with lock:
            body = app(environ, start_response)
            try:
                return list(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    server = make_server("127.0.0.1", 0, one_at_a_time, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{server.server_port}", app, lock)
    server.shutdown()
    thread.join()


@dataclass
class Served:
    url: str
    app: Flask
    lock: threading.Lock

    @property
    def sessions(self) -> sessionmaker[Session]:
        sessions: sessionmaker[Session] = self.app.extensions["interactions"].sessions
        return sessions


class FakeMailbox:
    """The user's mailbox as the worker reads it: the messages it holds by REST id."""

    def __init__(self, messages: dict[str, dict[str, Any]]) -> None:
        self.messages = messages
        self.reads: list[str] = []

    def get_message(self, rest_id: str) -> dict[str, Any]:
        self.reads.append(rest_id)
        if rest_id not in self.messages:
            raise MessageNotFound()

        return dict(self.messages[rest_id])

    def list_attachments(self, rest_id: str) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


@dataclass
class Worker:
    """Processes the captures the app queued, when the test says so."""

    served: Served
    queue: RecordingQueue
    mailbox: FakeMailbox = field(default_factory=lambda: FakeMailbox({}))
    done: int = 0

    def run(self) -> list[CaptureStatus | None]:
        results = []
        sent = self.queue.sent[self.done :]
        self.done = len(self.queue.sent)
        for name, args in sent:
            assert name == PROCESS_TASK
            with self.served.lock:
                results.append(
                    process_capture(self.served.sessions, args[0], self.mailbox_for)
                )

        return results

    def mailbox_for(self, session: Session, user_id: int) -> Mailbox:
        return self.mailbox


@pytest.fixture
def worker(served: Served, queue: RecordingQueue) -> Worker:
    return Worker(served, queue)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or (
            message.type == "error" and ("Uncaught" in message.text)
        ):
            problems.append(message.text)

    page.on("console", watch)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    name = re.sub(r"[^\w.-]+", "-", request.node.name)
    page.screenshot(path=str(ARTIFACTS / f"{name}-end.png"), full_page=True)
    context.close()
    assert not problems, problems


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    def take(step: str) -> None:
        name = re.sub(r"[^\w.-]+", "-", f"{request.node.name}-{step}")
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


def sandbox_url(served: Served, handle: str = "admin") -> str:
    return f"{served.url}/addin/sandbox?user={USERS[handle].email}"


def site(served: Served) -> str:
    """The served app's origin as the browser should use it: localhost, not
    127.0.0.1, since browsers keep Secure cookies of http://localhost."""
    return served.url.replace("127.0.0.1", "localhost")


@pytest.fixture
def admin(browser: Browser, served: Served) -> Iterator[Page]:
    """A signed-in administrator's page that fails the test on any script error."""
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(site(served) + "/sign-in")
    page.get_by_role("button", name=USERS["admin"].email).click()
    expect(page.get_by_role("heading", name="Welcome, Admin")).to_be_visible()
    yield page
    context.close()
    assert not problems, problems


def open_tab(page: Page, served: Served, kind: str, record_id: int) -> None:
    page.goto(site(served) + f"/records/{kind}/{record_id}?show_for_last=all")
