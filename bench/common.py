"""What the benchmarks and the stack suites share: progress, percentiles, a database
of their own, the simulator, and server processes started and stopped whole."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

import simulator
from interactions.db import make_engine
from simulator.directory import Directory
from web.devcert import LocalTLS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks, as numpy's default does."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median_of(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def recreate_database(database_url: str) -> None:
    """Drop and create the benchmark's database; its name must contain 'bench'."""
    url = make_url(database_url)
    name = url.database or ""
    # This drops the database it is pointed at: never let a typo cost real data.
    if "bench" not in name:
        raise SystemExit(
            f"Refusing to recreate {name!r}: the benchmark database's name must "
            "contain 'bench'."
        )

    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


@contextmanager
def running_simulator(
    tls: LocalTLS, client_id: str, people: Directory
) -> Iterator[tuple[str, Flask]]:
    """The simulator over HTTPS on a loopback port, in a thread: its origin and app."""
    app = simulator.create_app("https://placeholder", client_id, people)
    server = make_server(
        "127.0.0.1",
        0,
        app,
        threaded=True,
        ssl_context=(str(tls.cert_path), str(tls.key_path)),
    )
    origin = f"https://127.0.0.1:{server.server_port}"
    app.extensions["entra"].base_url = origin
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield origin, app
    finally:
        server.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def child_environment(
    database_url: str, redis_url: str, origin: str, tls: LocalTLS, instance: Path
) -> dict[str, str]:
    """The environment of the web and worker processes, as a deployment sets it."""
    environ = {
        key: value
        for key, value in os.environ.items()
        # Celery and requests read these ahead of the settings: keep them out.
        if not key.startswith("CELERY_")
        and key not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    }
    environ.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=redis_url,
        CELERY_RESULT_BACKEND=redis_url,
        ENTRA_AUTHORITY_HOST=origin,
        MICROSOFT_CA_BUNDLE=str(tls.ca_path),
        INSTANCE_PATH=str(instance),
        PYTHONUNBUFFERED="1",
    )
    return environ


@contextmanager
def running_process(
    name: str, command: list[str], environ: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process in a session of its own, stopped with all its children."""
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop_process_group(name, process)


def stop_process_group(name: str, process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return

    for stop_signal, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, stop_signal)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop on {stop_signal.name}")


def wait_for_http(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log_path.read_text()[-2000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer: {log_path.read_text()[-2000:]}")
