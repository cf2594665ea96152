"""The whole product as production runs it, on servers of the suite's own.

``Stack.started`` brings up, in order: a private PostgreSQL (migrated) and Redis,
the Microsoft simulator in a thread, the firms and their users (registered in the
simulator's directory and, through the product's own services, in the database),
gunicorn with several sync workers, Celery prefork workers and beat. Every server
is a real subprocess whose log is kept in the stack's folder; everything is stopped
when the block ends, also when it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import Engine, select, text

from bench.common import (
    child_environment,
    free_port,
    log,
    running_simulator,
    stop_process_group,
    wait_for_http,
)
from interactions.config import DEMO_CLIENT_ID, load_settings
from interactions.db import make_engine, make_session_factory, transaction
from interactions.migrate import upgrade
from interactions.models import BaseName, InteractionType, Right, Tier
from interactions.services.firms import add_user, register_firm
from simulator.client import sign_in
from simulator.directory import ALL_RIGHTS, Directory, DirectoryUser, Tenant
from simulator.graph import Graph
from tests.stack.servers import PrivatePostgres, PrivateRedis, tail
from web.devcert import ensure_local_tls

#: What a capture is final as; anything else is still on its way.
FINAL = ("stored", "duplicate", "failed")


@dataclass(frozen=True)
class StackOptions:
    firms: int = 20
    users_per_firm: int = 2
    web_workers: int = 3
    #: Celery worker main processes, each with its own prefork pool.
    worker_processes: int = 2
    worker_concurrency: int = 2
    sweep_interval_seconds: float = 5.0


@dataclass(frozen=True)
class StackUser:
    """A person who captures: their firm, their token, and the firm's Email type."""

    directory: DirectoryUser
    firm_id: int
    user_id: int
    email_type_id: int
    token: str


@dataclass
class Stack:
    options: StackOptions
    folder: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    engine: Engine
    simulator: Flask
    environ: dict[str, str]
    users: list[StackUser] = field(default_factory=list)
    web_port: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Keep the folder with the servers' logs when the stack stops (after a failure).
    keep_logs: bool = False
    _logs: dict[str, Any] = field(default_factory=dict)

    # -- what the suites look at -------------------------------------------------------

    @property
    def graph(self) -> Graph:
        state: Graph = self.simulator.extensions["graph"]
        return state

    def sql(self, statement: str, **parameters: Any) -> list[Any]:
        """Rows of a read on the stack's database, from the suite's own connection."""
        with self.engine.connect() as connection:
            return list(connection.execute(text(statement), parameters))

    def statuses(self, capture_ids: list[int]) -> dict[int, str]:
        if not capture_ids:
            return {}

        rows = self.sql(
            "SELECT id, status FROM capture WHERE id = ANY(:ids)", ids=capture_ids
        )
        return {row[0]: row[1] for row in rows}

    def wait_final(self, capture_ids: list[int], timeout: float) -> float:
        """Seconds until every capture is final; raises when ``timeout`` passes."""
        started = time.monotonic()
        while True:
            try:
                statuses = self.statuses(capture_ids)
                waiting = [i for i in capture_ids if statuses.get(i) not in FINAL]
            except Exception as error:  # the database may be restarting
                waiting = capture_ids
                log(f"  (the database did not answer: {type(error).__name__})")
            if not waiting:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"{len(waiting)} of {len(capture_ids)} captures are not final "
                    f"after {timeout:.0f} s, e.g. {waiting[:5]}"
                )
            time.sleep(0.25)

    # -- the Celery workers ------------------------------------------------------------

    def start_workers(self, **settings: str) -> None:
        """The worker processes and beat, with settings added to their environment."""
        environ = self.environ | settings
        for number in range(self.options.worker_processes):
            command = [sys.executable, "-m", "celery", "-A", "worker.app:celery_app"]
            command += ["worker", "--pool", "prefork"]
            command += ["-c", str(self.options.worker_concurrency)]
            command += ["-n", f"stack{number}-{uuid.uuid4().hex[:6]}@%h"]
            command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
            self._start(f"worker{number}", command, environ)
        beat = [sys.executable, "-m", "celery", "-A", "worker.app:celery_app", "beat"]
        beat += ["--schedule", str(self.folder / "beat-schedule"), "--loglevel", "INFO"]
        self._start("beat", beat, environ)
        self._wait_for_workers()

    def stop_workers(self) -> None:
        for name in [n for n in self.processes if n.startswith(("worker", "beat"))]:
            self._stop(name)

    def restart_workers(self, **settings: str) -> None:
        self.stop_workers()
        self.start_workers(**settings)

    def worker_children(self) -> list[int]:
        """The prefork pool processes of every worker: those that run the tasks."""
        mains = {
            p.pid for name, p in self.processes.items() if name.startswith("worker")
        }
        return [pid for pid, parent in _processes() if parent in mains]

    def kill_worker_children(self) -> int:
        """kill -9 every pool process; their worker starts new ones. How many."""
        killed = 0
        for pid in self.worker_children():
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass

        return killed

    def _wait_for_workers(self) -> None:
        wanted = self.options.worker_processes * self.options.worker_concurrency
        deadline = time.monotonic() + 60
        while len(self.worker_children()) < wanted:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"The workers did not start:\n{self.log_tails()}")
            time.sleep(0.2)

    # -- processes and their logs ------------------------------------------------------

    def _start(self, name: str, command: list[str], environ: dict[str, str]) -> None:
        output = (self.folder / f"{name}.log").open("ab")
        self._logs[name] = output
        self.processes[name] = subprocess.Popen(
            command,
            cwd=Path(__file__).resolve().parents[2],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _stop(self, name: str) -> None:
        process = self.processes.pop(name)
        stop_process_group(name, process)
        self._logs.pop(name).close()

    def log_tail(self, name: str, characters: int = 4000) -> str:
        return tail(self.folder / f"{name}.log", characters)

    def log_tails(self) -> str:
        names = sorted(p.stem for p in self.folder.glob("*.log"))
        parts = [f"== {name}\n{self.log_tail(name)}" for name in names]
        parts.append(f"== postgres\n{self.postgres.log_tail()}")
        parts.append(f"== redis\n{self.redis.log_tail()}")
        return "\n".join(parts)

    def close(self) -> None:
        for name in list(self.processes):
            self._stop(name)

    # -- start-up ----------------------------------------------------------------------

    @classmethod
    @contextmanager
    def started(cls, options: StackOptions) -> Iterator[Stack]:
        with ExitStack() as exits:
            folder = Path(tempfile.mkdtemp(prefix="interactions-stack-"))
            kept: list[Stack] = []
            exits.callback(_remove_unless_kept, folder, kept)
            postgres = PrivatePostgres()
            exits.callback(postgres.remove)
            redis = PrivateRedis()
            exits.callback(redis.remove)
            log(f"stack: servers and logs under {folder}")
            postgres.create()
            redis.start()
            engine = make_engine(postgres.url, pool_pre_ping=True)
            exits.callback(engine.dispose)
            upgrade(engine)

            tls = ensure_local_tls(folder / "tls")
            directory = Directory(_people(options))
            origin, simulator_app = exits.enter_context(
                running_simulator(tls, DEMO_CLIENT_ID, directory)
            )
            environ = child_environment(
                postgres.url, redis.url, origin, tls, folder / "instance"
            )
            environ.update(
                TOKEN_CACHE_KEYS=Fernet.generate_key().decode(),
                SECRET_KEY=uuid.uuid4().hex * 2,
                SWEEP_INTERVAL_SECONDS=f"{options.sweep_interval_seconds:g}",
            )
            stack = cls(
                options, folder, postgres, redis, engine, simulator_app, environ
            )
            kept.append(stack)
            exits.callback(stack.close)
            stack.users = _register(engine, directory, origin, str(tls.ca_path))

            stack.web_port = free_port()
            stack._start("web", _gunicorn(stack.web_port, options), environ)
            wait_for_http(stack.web_port, stack.processes["web"], folder / "web.log")
            stack.start_workers()
            log(
                f"stack: {options.firms} firms, {len(stack.users)} users, "
                f"gunicorn on {stack.web_port}, {options.worker_processes} workers"
            )
            yield stack


def _remove_unless_kept(folder: Path, stacks: list[Stack]) -> None:
    if any(stack.keep_logs for stack in stacks):
        log(f"stack: the logs are kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _gunicorn(port: int, options: StackOptions) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(options.web_workers), "--worker-class", "sync"]
    command += ["--timeout", "60", "--log-level", "warning", "web:create_app()"]
    return command


def _people(options: StackOptions) -> list[DirectoryUser]:
    people = []
    for number in range(options.firms):
        name = f"Load Firm {number:02d}"
        tenant = Tenant(str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), name, "Team", False)
        for handle in range(options.users_per_firm):
            email = f"user{handle}@firm{number:02d}.test"
            people.append(
                DirectoryUser(
                    tenant,
                    str(uuid.uuid5(uuid.NAMESPACE_DNS, email)),
                    email,
                    f"User {handle} of firm {number}",
                    "secret",
                    ALL_RIGHTS,
                )
            )

    return people


def _register(
    engine: Engine, directory: Directory, origin: str, ca_path: str
) -> list[StackUser]:
    """The firms and users, as the product registers them; each user's token."""
    registered: list[tuple[DirectoryUser, int, int, int]] = []
    with transaction(make_session_factory(engine)) as session:
        firms: dict[str, Any] = {}
        for person in directory.users:
            tenant = person.tenant
            if tenant.tenant_id not in firms:
                firms[tenant.tenant_id] = register_firm(
                    session,
                    tenant.firm_name,
                    Tier(tenant.tier),
                    False,
                    tenant.tenant_id,
                )
            firm = firms[tenant.tenant_id]
            user = add_user(
                session,
                firm,
                person.object_id,
                person.email,
                person.name,
                [Right(right) for right in person.rights],
            )
            session.flush()
            email_type = session.scalars(
                select(InteractionType.id).where(
                    InteractionType.firm_id == firm.id,
                    InteractionType.base_name == BaseName.EMAIL,
                )
            ).first()
            assert email_type is not None
            registered.append((person, firm.id, user.id, email_type))

    scope = load_settings({}).api_scope
    users = []
    for person, firm_id, user_id, email_type_id in registered:
        answer = sign_in(
            origin,
            person.tenant.tenant_id,
            DEMO_CLIENT_ID,
            person.email,
            person.password,
            [scope],
            ca_path,
        )
        users.append(
            StackUser(person, firm_id, user_id, email_type_id, answer["access_token"])
        )

    return users


def _processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every process of this machine, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat.rpartition(")")[2].split()
        found.append((int(entry.name), int(fields[1])))

    return found
