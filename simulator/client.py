"""Signing in to the simulator with MSAL, as a script or a test does.

MSAL asks ``/common/userrealm`` at the authority's host without its port (it builds
that one URL from the host name alone), so on a simulator served at a port the
question would go to port 443. The session below sends it to the simulator's port.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlsplit

import msal
import requests


class SimulatorSession(requests.Session):
    """A session that trusts the simulator's CA and puts its port back on URLs."""

    def __init__(self, origin: str, ca_path: str | None) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = ca_path or True
        parts = urlsplit(origin)
        self._portless = f"https://{parts.hostname}/"
        self._origin = origin.rstrip("/") + "/"

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> Any:
        if isinstance(url, str) and url.startswith(self._portless):
            url = self._origin + url.removeprefix(self._portless)
        kwargs.setdefault("timeout", 10)
        return super().request(method, url, *args, **kwargs)


def sign_in(
    origin: str,
    tenant_id: str,
    client_id: str,
    email: str,
    password: str,
    scopes: list[str],
    ca_path: str | None = None,
) -> dict[str, Any]:
    """MSAL's username-and-password call against the simulator; MSAL's result dict."""
    application = msal.PublicClientApplication(
        client_id,
        authority=f"{origin.rstrip('/')}/{tenant_id}",
        instance_discovery=False,
        http_client=SimulatorSession(origin, ca_path),
    )
    with warnings.catch_warnings():
        # The password grant is deprecated for real users; it is how scripts and
        # tests sign in the simulator's demo users.
        warnings.simplefilter("ignore", DeprecationWarning)
        result: dict[str, Any] = application.acquire_token_by_username_password(
            email, password, scopes=scopes
        )

    return result
