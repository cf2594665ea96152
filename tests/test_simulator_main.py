"""``python -m simulator``: the simulator on its own, as the demo stack runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509

from interactions.config import DEMO_CLIENT_ID, PROJECT_ROOT
from web.devcert import ensure_local_tls

#: Long enough for a cold interpreter on a busy machine to import Flask and MSAL.
START_SECONDS = 30


@dataclass
class Standalone:
    process: subprocess.Popen[bytes]
    origin: str
    ca_path: Path

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.origin}{path}", verify=str(self.ca_path), timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]

    return port


def start(instance: Path) -> Standalone:
    """The entry point in a process of its own on a free port, once it answers."""
    port = free_port()
    # Only the instance and the port: the simulator's defaults do the rest.
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ENTRA_", "GRAPH_", "API_", "REQUESTS_"))
    }
    environ |= {"INSTANCE_PATH": str(instance), "SIMULATOR_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator"], cwd=PROJECT_ROOT, env=environ
    )
    standalone = Standalone(
        process, f"https://localhost:{port}", instance / "tls" / "ca.pem"
    )

    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "the simulator exited"
        try:
            standalone.get("/demo/users")
            return standalone
        except (requests.ConnectionError, OSError):
            time.sleep(0.2)

    process.terminate()
    pytest.fail(f"the simulator did not answer within {START_SECONDS} s")


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    running = start(tmp_path)
    yield running
    running.process.terminate()
    running.process.wait(timeout=20)


def test_it_serves_its_openid_configuration_over_https(standalone: Standalone) -> None:
    tenant = standalone.get("/demo/users").json()["users"][0]["tenant_id"]

    response = standalone.get(f"/{tenant}/v2.0/.well-known/openid-configuration")

    assert response.status_code == 200
    configuration = response.json()
    assert configuration["issuer"] == f"{standalone.origin}/{tenant}/v2.0"
    assert configuration["token_endpoint"].startswith(f"{standalone.origin}/")


def test_its_demo_users_sign_in_to_the_registration(standalone: Standalone) -> None:
    users = standalone.get("/demo/users").json()["users"]

    assert users
    assert {user["client_id"] for user in users} == {DEMO_CLIENT_ID}


def test_it_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    running = start(tmp_path)

    running.process.terminate()

    assert running.process.wait(timeout=20) == 0


def dns_names(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)

    return set(names.value.get_values_for_type(x509.DNSName))


def test_the_certificate_covers_the_name_callers_use(tmp_path: Path) -> None:
    tls = ensure_local_tls(tmp_path, ("login.localhost",))

    assert dns_names(tls.cert_path) == {"localhost", "login.localhost"}


def test_a_certificate_is_kept_while_it_covers_the_names(tmp_path: Path) -> None:
    first = ensure_local_tls(tmp_path, ("login.localhost",)).cert_path.read_bytes()

    again = ensure_local_tls(tmp_path, ("login.localhost", "localhost"))

    assert again.cert_path.read_bytes() == first


def test_a_certificate_without_a_name_is_made_again(tmp_path: Path) -> None:
    first = ensure_local_tls(tmp_path).cert_path.read_bytes()

    again = ensure_local_tls(tmp_path, ("simulator.localhost",))

    assert again.cert_path.read_bytes() != first
    assert "simulator.localhost" in dns_names(again.cert_path)
