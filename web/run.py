"""The embedded run (``make run``): the whole product on one machine, in one command.

Starts the Microsoft simulator and the web app over HTTPS with a local certificate,
a Celery worker on the embedded broker, and SQLite in WAL mode under ``instance/``;
migrates, seeds the demo firms once, prints where everything is, and stops it all
on Ctrl-C. DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

import simulator
from addin.manifest import render_manifest
from interactions import logs
from interactions.config import PROJECT_ROOT, Settings, load_settings
from interactions.db import make_engine, make_session_factory, transaction
from interactions.demo import DemoCorrespondent, DemoUser, seed
from interactions.migrate import upgrade
from simulator.directory import demo_directory
from simulator.mailbox import DEMO_CORRESPONDENTS
from web import create_app
from web.devcert import LocalTLS, ensure_local_tls

log = logging.getLogger("interactions.run")


def main() -> None:
    logs.configure(load_settings().log_format)
    instance = Path(os.environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance")
    tls = ensure_local_tls(instance / "tls")
    uses_simulator = not os.environ.get("ENTRA_AUTHORITY_HOST")
    if uses_simulator:
        os.environ.setdefault("MICROSOFT_CA_BUNDLE", str(tls.ca_path))
    settings = load_settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)

    prepare_database(settings)
    servers = [serve("web", create_app(), settings.web_port, tls)]
    if uses_simulator:
        servers.append(serve_simulator(settings, tls))
    worker = start_worker(settings)
    manifest = write_manifest(settings)
    announce(settings, tls, manifest)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1) and worker.poll() is None:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping")
        for server in servers:
            server.shutdown()
        worker.terminate()
        worker.wait(timeout=20)


def prepare_database(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        if seed(session, demo_users(), demo_correspondents()):
            log.info("seeded the demo firms")
    engine.dispose()


def demo_users() -> list[DemoUser]:
    return [
        DemoUser(
            firm_name=user.tenant.firm_name,
            tier=user.tenant.tier,
            has_salespitch=user.tenant.has_salespitch,
            tenant_id=user.tenant.tenant_id,
            object_id=user.object_id,
            email=user.email,
            name=user.name,
            rights=user.rights,
        )
        for user in demo_directory().users
    ]


def demo_correspondents() -> list[DemoCorrespondent]:
    return [
        DemoCorrespondent(name, address, company)
        for name, address, company in DEMO_CORRESPONDENTS
    ]


def serve(
    name: str, app: object, port: int, tls: LocalTLS, host: str = "127.0.0.1"
) -> BaseWSGIServer:
    """``app`` over HTTPS on ``host`` and ``port``, in a thread of its own."""
    server = make_server(
        host,
        port,
        app,  # type: ignore[arg-type]
        threaded=True,
        ssl_context=(str(tls.cert_path), str(tls.key_path)),
    )
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def serve_simulator(
    settings: Settings, tls: LocalTLS, host: str = "127.0.0.1"
) -> BaseWSGIServer:
    """The Microsoft simulator with the demo users, answering as the settings'
    ENTRA_AUTHORITY_HOST on SIMULATOR_PORT, for the settings' registration."""
    app = simulator.create_app(
        settings.authority_host,
        settings.client_id,
        demo_directory(),
        client_secret=settings.client_secret,
    )

    return serve("simulator", app, settings.simulator_port, tls, host)


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """One worker process with the beat scheduler inside, as a small site would run."""
    schedule = settings.instance_path / "celerybeat-schedule"
    command = [sys.executable, "-m", "celery", "-A", "worker.app:celery_app"]
    command += ["worker", "--beat", f"--schedule={schedule}", "--pool=threads"]
    command += ["--concurrency=4", "--loglevel=INFO"]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=os.environ.copy())


def write_manifest(settings: Settings) -> Path:
    """The add-in manifest for this run, to sideload in Outlook."""
    path = settings.instance_path / "manifest.xml"
    base_url = f"https://localhost:{settings.web_port}"
    path.write_text(render_manifest(base_url, settings.client_id), encoding="utf-8")
    return path


def announce(settings: Settings, tls: LocalTLS, manifest: Path) -> None:
    web = f"https://localhost:{settings.web_port}"
    entra = settings.authority_host
    print(
        f"""
Interactions is running.

  Admin page      {web}/  (sign in as any demo user)
  Add-in sandbox  {web}/addin/sandbox  (the task pane beside a demo mailbox)
  API             {web}/api/v1  (OpenAPI: {web}/api/v1/openapi.json)
  Health          {web}/healthz   {web}/readyz
  Simulator       {entra}  (demo users: {entra}/demo/users)
  Manifest        {manifest}  (to sideload in Outlook)
  Local CA        {tls.ca_path}  (trust it, or pass curl --cacert)

Get a token as a demo user and call the API:

  TOKEN=$(.venv/bin/python -m simulator.token avery@summit.example)
  curl --cacert {tls.ca_path} -H "Authorization: Bearer $TOKEN" {web}/api/v1/me

Press Ctrl-C to stop.
""",
        flush=True,
    )


if __name__ == "__main__":
    main()
