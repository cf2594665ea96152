"""What the benchmarks share: progress, percentiles, a database of their own."""

from __future__ import annotations

import statistics
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

import simulator
from interactions.db import make_engine
from simulator.directory import Directory
from web.devcert import LocalTLS


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
