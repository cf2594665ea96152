"""The one HTTP session used to talk to Microsoft, and its timeout."""

from __future__ import annotations

import requests

from interactions.config import Settings

#: Seconds to wait for Microsoft before giving up: (connect, read).
TIMEOUT = (3.05, 15)


def make_session(settings: Settings) -> requests.Session:
    """A session that trusts exactly the configured CA bundle.

    ``trust_env`` is off because requests lets ``REQUESTS_CA_BUNDLE`` override a
    session's ``verify``, which would silently distrust the local simulator.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = settings.microsoft_ca_bundle or True

    return session
