"""Private PostgreSQL and Redis servers, each in a temporary folder on a free port.

They belong to the suite that started them, which may stop, kill and restart them
at will; nothing shared is touched. PostgreSQL refuses to run as root, so under
root its programs run as the ``postgres`` user, in a folder made theirs.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from bench.common import free_port

#: The account PostgreSQL's programs run as when the suite runs as root.
POSTGRES_ACCOUNT = "postgres"
DATABASE_NAME = "interactions"


class ServiceMissing(Exception):
    """A program the stack needs is not installed; the message says which."""


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are: pg_config's answer, else the newest installed."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if found and (Path(found) / "initdb").exists():
            return Path(found)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise ServiceMissing("PostgreSQL's initdb is not installed.")

    return Path(candidates[-1]).parent


def redis_server_path() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise ServiceMissing("redis-server is not installed.")

    return found


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command

    return ["runuser", "-u", POSTGRES_ACCOUNT, "--", *command]


def _private_folder(prefix: str, for_postgres: bool = False) -> Path:
    # Not under pytest's own temporary folder: that one is closed to other users.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if for_postgres and os.geteuid() == 0:
        shutil.chown(folder, POSTGRES_ACCOUNT, POSTGRES_ACCOUNT)

    return folder


class PrivatePostgres:
    """A cluster made with initdb, served on a loopback port with trust auth."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.folder = _private_folder("interactions-pg-", for_postgres=True)
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self.port = free_port()
        self.url = (
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"
        )

    def _run(self, *arguments: str) -> None:
        command = _as_postgres([str(self.bindir / arguments[0]), *arguments[1:]])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{arguments[0]} failed: {done.stdout}{done.stderr}\n{self.log_tail()}"
            )

    def create(self) -> None:
        """initdb, start, and create the product's database."""
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync",
        )  # fmt: skip
        self.start()
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session, as a restart does."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def _conninfo(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def log_tail(self, characters: int = 3000) -> str:
        return tail(self.log_path, characters)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A redis-server that keeps an append-only file, so a restart keeps its queue."""

    def __init__(self) -> None:
        self.program = redis_server_path()
        self.folder = _private_folder("interactions-redis-")
        self.log_path = self.folder / "redis.log"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            self.program, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.folder), "--logfile", str(self.log_path),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.1)
            finally:
                client.close()

    def stop(self) -> None:
        """Stop the server as a shutdown does: it writes its file and exits."""
        if self.process is None or self.process.poll() is not None:
            return

        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, characters: int = 3000) -> str:
        return tail(self.log_path, characters)

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def tail(path: Path, characters: int = 3000) -> str:
    """The end of a server's log, or nothing when it has none yet."""
    try:
        return path.read_text(errors="replace")[-characters:]
    except OSError:
        return ""
