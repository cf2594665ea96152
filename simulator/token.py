"""Print a token for our API as a demo user: ``python -m simulator.token EMAIL``.

Signs in through MSAL against the running simulator, as any script would.
"""

from __future__ import annotations

import argparse
import sys

import requests

from interactions.config import load_settings
from simulator.client import SimulatorSession, sign_in


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email", help="a demo user's email, e.g. avery@summit.example")
    arguments = parser.parse_args()
    settings = load_settings()
    origin = settings.authority_host
    ca_path = settings.microsoft_ca_bundle or str(settings.instance_path / "tls/ca.pem")

    try:
        users = (
            SimulatorSession(origin, ca_path)
            .get(f"{origin}/demo/users")
            .json()["users"]
        )
    except requests.RequestException as error:
        print(
            f"The simulator at {origin} does not answer; is `make run` up? ({error})",
            file=sys.stderr,
        )
        return 1

    user = next((u for u in users if u["email"] == arguments.email.lower()), None)
    if user is None:
        print(
            f"No demo user {arguments.email}; see {origin}/demo/users.", file=sys.stderr
        )
        return 1

    result = sign_in(
        origin,
        user["tenant_id"],
        user["client_id"],
        user["email"],
        user["password"],
        [user["scope"]],
        ca_path,
    )
    if "access_token" not in result:
        print(result.get("error_description", result), file=sys.stderr)
        return 1

    print(result["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
