"""Shared fixtures: a migrated database, the simulator over HTTPS, tokens, factories.

Runs on SQLite by default, and on PostgreSQL when DATABASE_URL names one. Each test
runs inside a transaction that is rolled back; the firms and users every test needs
are committed once per session. Nothing may leave this machine.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server

import simulator
from interactions.config import DEMO_CLIENT_ID, Settings, load_settings
from interactions.db import make_engine
from interactions.microsoft.graph import MailGateway
from interactions.microsoft.tokens import exchange_on_behalf_of
from interactions.migrate import upgrade
from interactions.models import (
    Client,
    Contact,
    ContactEmail,
    ContactRole,
    Interaction,
    InteractionType,
    Link,
    Opportunity,
    Plan,
    Project,
    Proposal,
    Prospect,
    RecordType,
    Right,
    Tier,
    User,
)
from interactions.queue import QUEUE, RecordingQueue
from interactions.services.access import Actor
from interactions.services.firms import add_user, register_firm
from simulator.client import sign_in
from simulator.directory import ALL_RIGHTS, Directory, DirectoryUser, Tenant
from simulator.entra import GRAPH_AUDIENCE, Grant
from simulator.graph import Graph

# The load and fault suites' one stack per session, shared by both (tests/stack).
from tests.stack.fixtures import stack, suite_size  # noqa: F401
from web import api as api_module
from web import build_runtime, create_app
from web.api.openapi import document
from web.api.schemas import Error
from web.context import Runtime
from web.devcert import LocalTLS, ensure_local_tls

# -- no network beyond this machine ---------------------------------------------------


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # a Unix socket path
        return True

    host = address[0]
    if host == "localhost":
        return True

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True, scope="session")
def forbid_outbound_network() -> Iterator[None]:
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise OSError(f"Tests may not reach the network: {address!r}")
        return original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


# -- the simulator and settings --------------------------------------------------


def _tenant(name: str, tier: str, salespitch: bool) -> Tenant:
    return Tenant(str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), name, tier, salespitch)


ACME = _tenant("Acme Pensions", "Business", True)
BRIGHT = _tenant("Bright Benefits", "Team", False)
TRACKER = _tenant("Tracker Only Co", "Track", False)


def _user(tenant: Tenant, handle: str, *rights: str) -> DirectoryUser:
    email = f"{handle}@{tenant.firm_name.split()[0].lower()}.test"
    object_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, email))
    return DirectoryUser(
        tenant, object_id, email, handle.capitalize(), "secret", rights
    )


USERS = {
    "admin": _user(ACME, "admin", *ALL_RIGHTS),
    "editor": _user(ACME, "editor", "Add/Edit Interaction"),
    "deleter": _user(ACME, "deleter", "Delete Interaction"),
    "reader": _user(ACME, "reader"),
    "other": _user(BRIGHT, "other", *ALL_RIGHTS),
    "tracker": _user(TRACKER, "tracker", *ALL_RIGHTS),
}


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTLS:
    return ensure_local_tls(tmp_path_factory.mktemp("tls"))


@dataclass
class RunningSimulator:
    url: str
    app: Flask
    server: BaseWSGIServer

    @property
    def entra(self) -> simulator.entra.Entra:
        value: simulator.entra.Entra = self.app.extensions["entra"]
        return value

    @property
    def jwks_fetches(self) -> int:
        return self.entra.calls["entra.keys"]


@pytest.fixture(scope="session")
def running_simulator(tls: LocalTLS) -> Iterator[RunningSimulator]:
    server = make_server(
        "127.0.0.1",
        0,
        simulator.create_app(
            "https://placeholder", DEMO_CLIENT_ID, Directory(list(USERS.values()))
        ),
        threaded=True,
        ssl_context=(str(tls.cert_path), str(tls.key_path)),
    )
    url = f"https://127.0.0.1:{server.server_port}"
    app = server.app
    app.extensions["entra"].base_url = url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RunningSimulator(url, app, server)
    server.shutdown()


@pytest.fixture(scope="session")
def settings(
    tmp_path_factory: pytest.TempPathFactory,
    running_simulator: RunningSimulator,
    tls: LocalTLS,
) -> Settings:
    instance = tmp_path_factory.mktemp("instance")
    environ = {
        "INSTANCE_PATH": str(instance),
        "ENTRA_AUTHORITY_HOST": running_simulator.url,
        "MICROSOFT_CA_BUNDLE": str(tls.ca_path),
        "DATABASE_URL": _test_database_url(instance),
        # Tests send many requests as one user in quick succession; those that
        # prove the limits set their own.
        "CAPTURE_RATE_PER_USER": "0",
        "CAPTURE_RATE_PER_FIRM": "0",
        "API_RATE_PER_USER": "0",
        "API_RATE_PER_FIRM": "0",
    }
    return load_settings(environ)


def _test_database_url(instance: Path) -> str:
    configured = load_settings().database_url
    if configured.startswith("postgresql"):
        url = make_url(configured)
        return url.set(database=f"{url.database}_test").render_as_string(
            hide_password=False
        )

    return f"sqlite:///{instance}/test.sqlite"


# -- the database ----------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """The firms and users every test can count on, committed once."""

    firm_ids: dict[str, int]
    users: dict[str, User]
    actors: dict[str, Actor]


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    if settings.database_url.startswith("postgresql"):
        _recreate_postgres_database(settings.database_url)

    engine = make_engine(settings.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _recreate_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(
            text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        )
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def world(engine: Engine) -> World:
    firm_ids: dict[str, int] = {}
    users: dict[str, User] = {}
    with Session(engine, expire_on_commit=False) as session, session.begin():
        firms = {}
        for tenant in (ACME, BRIGHT, TRACKER):
            firm = register_firm(
                session,
                tenant.firm_name,
                Tier(tenant.tier),
                tenant.has_salespitch,
                tenant.tenant_id,
            )
            firms[tenant.tenant_id] = firm
            firm_ids[tenant.firm_name] = firm.id
        for handle, entry in USERS.items():
            users[handle] = add_user(
                session,
                firms[entry.tenant.tenant_id],
                entry.object_id,
                entry.email,
                entry.name,
                [Right(right) for right in entry.rights],
            )
        actors = {handle: Actor.of(user) for handle, user in users.items()}

    return World(firm_ids, users, actors)


@pytest.fixture
def db(engine: Engine, world: World) -> Iterator[Session]:
    """A session whose every commit is undone when the test ends."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
    yield session
    session.close()
    transaction.rollback()
    connection.close()


# -- the app and tokens ----------------------------------------------------------------


@pytest.fixture
def sessions(db: Session) -> sessionmaker[Session]:
    """Units of work, as a worker opens them, inside the test's transaction."""
    return sessionmaker(
        bind=db.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )


@pytest.fixture(scope="session")
def base_runtime(settings: Settings, engine: Engine) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def queue() -> RecordingQueue:
    """What the app queued for the workers during the test."""
    return RecordingQueue()


@pytest.fixture
def app(base_runtime: Runtime, db: Session, queue: RecordingQueue) -> Flask:
    bound = sessionmaker(
        bind=db.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        info={QUEUE: queue},
    )
    runtime = Runtime(
        base_runtime.settings, base_runtime.engine, bound, base_runtime.validator
    )
    return create_app(runtime)


@pytest.fixture(scope="session")
def tokens(running_simulator: RunningSimulator, tls: LocalTLS) -> TokenSource:
    return TokenSource(running_simulator.url, str(tls.ca_path))


class TokenSource:
    """Access tokens for our API, from the simulator through MSAL's password grant."""

    def __init__(self, authority_host: str, ca_path: str) -> None:
        self.authority_host = authority_host
        self.ca_path = ca_path
        self._tokens: dict[str, str] = {}

    def __call__(self, handle: str) -> str:
        if handle not in self._tokens:
            self._tokens[handle] = self.acquire(USERS[handle])

        return self._tokens[handle]

    def acquire(self, user: DirectoryUser) -> str:
        result = sign_in(
            self.authority_host,
            user.tenant.tenant_id,
            DEMO_CLIENT_ID,
            user.email,
            user.password,
            [f"api://{DEMO_CLIENT_ID}/access_as_user"],
            self.ca_path,
        )
        assert "access_token" in result, result
        token: str = result["access_token"]
        return token


class ApiClient:
    """The Flask test client, speaking JSON with a user's token.

    Every answer is checked against the OpenAPI document: its status must be one the
    operation documents, and its body must match the documented schema.
    """

    def __init__(self, client: FlaskClient, tokens: TokenSource) -> None:
        self.client = client
        self.tokens = tokens
        self.document = openapi_document()

    def call(
        self,
        method: str,
        path: str,
        as_: str = "admin",
        json: Any = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token or self.tokens(as_)}"}
        response = self.client.open(
            path, method=method, json=json, headers=headers, **kwargs
        )
        self.check_documented(method, path, response)
        return response

    def check_documented(self, method: str, path: str, response: Any) -> None:
        adapter = self.client.application.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(path.split("?")[0], method, return_rule=True)
        except HTTPException:
            return  # not an operation: the error shape is checked where it matters

        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        operation = self.document["paths"][template][method.lower()]
        documented = operation["responses"].get(str(response.status_code))
        assert documented, (
            f"{method} {template} answered an undocumented {response.status_code}"
        )
        content = documented.get("content", {}).get("application/json")
        if content is not None:
            schema = content["schema"] | {"components": self.document["components"]}
            OAS31Validator(schema).validate(response.json)

    def get(self, path: str, as_: str = "admin", **kwargs: Any) -> Any:
        return self.call("GET", path, as_, **kwargs)

    def post(self, path: str, json: Any, as_: str = "admin") -> Any:
        return self.call("POST", path, as_, json=json)

    def patch(self, path: str, json: Any, as_: str = "admin") -> Any:
        return self.call("PATCH", path, as_, json=json)

    def delete(self, path: str, as_: str = "admin", **kwargs: Any) -> Any:
        return self.call("DELETE", path, as_, **kwargs)


@pytest.fixture
def visitor(app: Flask, running_simulator: RunningSimulator, tls: LocalTLS) -> Any:
    """A person at the admin page: our app's test client and the simulator's pages."""
    from tests.browsing import Browser  # it imports this module's demo users

    return Browser(app.test_client(), running_simulator, str(tls.ca_path))


@functools.cache
def openapi_document() -> dict[str, Any]:
    return document(api_module.api, api_module.PREFIX, Error)


@pytest.fixture
def api(app: Flask, tokens: TokenSource) -> ApiClient:
    return ApiClient(app.test_client(), tokens)


# -- the simulated Graph and the mail gateway -----------------------------------------


@pytest.fixture
def simulated_graph(running_simulator: RunningSimulator) -> Iterator[Graph]:
    """The simulator's Graph state; the faults a test adds end with it."""
    state: Graph = running_simulator.app.extensions["graph"]
    yield state
    state.faults.clear()


class GraphClient:
    """Plain HTTP to the simulated Graph, as any Graph client would call it."""

    def __init__(
        self, simulator: RunningSimulator, ca_path: str, handle: str = "admin"
    ) -> None:
        self.base = f"{simulator.url}/v1.0"
        self.simulator = simulator
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = ca_path
        self.user = USERS[handle]
        self.token = self.mint("Mail.Read", "Mail.Send")

    def mint(self, *scopes: str, **overrides: Any) -> str:
        grant = Grant(self.user, GRAPH_AUDIENCE, scopes)
        return self.simulator.entra.access_token(grant, **overrides)

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        headers |= kwargs.pop("headers", {})
        url = path if path.startswith("https://") else f"{self.base}{path}"
        return self.session.request(method, url, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def graph_client(
    running_simulator: RunningSimulator, settings: Settings, simulated_graph: Graph
) -> GraphClient:
    assert settings.microsoft_ca_bundle is not None
    return GraphClient(running_simulator, settings.microsoft_ca_bundle)


@pytest.fixture
def mailbox(
    db: Session, settings: Settings, world: World, tokens: TokenSource
) -> Iterator[MailGateway]:
    """The admin's mailbox through the gateway, after the API's on-behalf-of."""
    user = world.users["admin"]
    exchange_on_behalf_of(
        db, settings, user.id, USERS["admin"].tenant.tenant_id, tokens("admin")
    )
    with MailGateway.for_user(db, settings, user.id) as gateway:
        yield gateway


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]

    return port


# -- factories -------------------------------------------------------------------------


class Factory:
    """Makes CRM records and interactions in a firm, straight through the ORM."""

    def __init__(self, session: Session, world: World) -> None:
        self.session = session
        self.world = world

    def firm_id(self, firm: str = "Acme Pensions") -> int:
        return self.world.firm_ids[firm]

    def client(
        self, name: str = "Northwind Traders", firm: str = "Acme Pensions"
    ) -> Client:
        return self._add(Client(firm_id=self.firm_id(firm), name=name))

    def plan(self, client: Client, name: str = "Northwind 401(k) Plan") -> Plan:
        return self._add(Plan(firm_id=client.firm_id, client_id=client.id, name=name))

    def contact(
        self,
        last_name: str = "Rivera",
        first_name: str = "Dana",
        emails: tuple[str, ...] = (),
        client: Client | None = None,
        plan: Plan | None = None,
        firm: str = "Acme Pensions",
    ) -> Contact:
        firm_id = self.firm_id(firm)
        contact = Contact(
            firm_id=firm_id,
            first_name=first_name,
            last_name=last_name,
            emails=[ContactEmail(firm_id=firm_id, address=e.lower()) for e in emails],
        )
        if client is not None:
            contact.roles.append(
                ContactRole(firm_id=firm_id, client_id=client.id, role="Trustee")
            )
        if plan is not None:
            contact.roles.append(
                ContactRole(firm_id=firm_id, plan_id=plan.id, role="Payroll")
            )
        return self._add(contact)

    def record(self, kind: str, name: str = "", firm: str = "Acme Pensions") -> Any:
        """A record of any kind that has an Interactions tab."""
        if kind == "client":
            return self.client(name or "Northwind Traders", firm)
        if kind == "plan":
            return self.plan(self.client(firm=firm), name or "Northwind 401(k) Plan")
        if kind == "project":
            plan = self.plan(self.client(firm=firm))
            return self._add(
                Project(firm_id=plan.firm_id, plan_id=plan.id, name="Audit")
            )
        if kind == "contact":
            return self.contact(firm=firm)
        model = {"opportunity": Opportunity, "proposal": Proposal, "prospect": Prospect}
        return self._add(
            model[kind](firm_id=self.firm_id(firm), name=name or kind.title())
        )

    def type(
        self, base_name: str = "Email", firm: str = "Acme Pensions"
    ) -> InteractionType:
        found = (
            self.session.query(InteractionType)
            .filter_by(firm_id=self.firm_id(firm), display_name=base_name)
            .one()
        )
        return found

    def interaction(
        self,
        *records: Any,
        title: str = "Quarterly review",
        days_ago: float = 1,
        type_name: str = "Email",
        firm: str = "Acme Pensions",
    ) -> Interaction:
        occurred_at = datetime.now(UTC) - timedelta(days=days_ago)
        interaction = Interaction(
            firm_id=self.firm_id(firm),
            type=self.type(type_name, firm),
            title=title,
            occurred_at=occurred_at,
        )
        for record in records:
            interaction.links.append(
                Link(
                    firm_id=interaction.firm_id,
                    record_type=RecordType(type(record).__tablename__),
                    record_id=record.id,
                    occurred_at=occurred_at,
                )
            )
        return self._add(interaction)

    def _add(self, record: Any) -> Any:
        self.session.add(record)
        self.session.flush()
        return record


@pytest.fixture
def make(db: Session, world: World) -> Factory:
    return Factory(db, world)
