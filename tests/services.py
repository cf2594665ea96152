"""Exit 0 when the database and the broker of the second test pass answer, else 1.

``python -m tests.services DATABASE_URL BROKER_URL``
"""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlsplit


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    database_url, broker_url = sys.argv[1:3]
    sys.exit(0 if reachable(database_url, 5432) and reachable(broker_url, 6379) else 1)
