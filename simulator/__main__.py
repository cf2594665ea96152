"""The Microsoft simulator on its own: ``python -m simulator``.

Serves the Entra ID and Graph simulator with the demo users over HTTPS, as the
embedded run does beside the app, for a stack whose web and workers run elsewhere
(the demo profile of docker-compose.yml). It answers as ENTRA_AUTHORITY_HOST (by
default ``https://localhost:<SIMULATOR_PORT>``) for the registration of
API_CLIENT_ID and API_CLIENT_SECRET, with a certificate signed by the local CA under
``<INSTANCE_PATH>/tls``, made on the first start; clients trust that CA's
``ca.pem`` (MICROSOFT_CA_BUNDLE). It stops on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from urllib.parse import urlsplit

from interactions import logs
from interactions.config import load_settings
from web.devcert import ensure_local_tls
from web.run import serve_simulator

log = logging.getLogger("simulator")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="The Microsoft Entra ID and Graph simulator, over HTTPS.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (0.0.0.0 in a container); 127.0.0.1 by default",
    )
    arguments = parser.parse_args(argv)
    settings = load_settings()
    logs.configure(settings.log_format)

    # The certificate covers the host callers use, whatever name that is.
    hostname = urlsplit(settings.authority_host).hostname or "localhost"
    tls = ensure_local_tls(settings.instance_path / "tls", (hostname,))
    server = serve_simulator(settings, tls, arguments.host)
    log.info(
        "the Microsoft simulator answers at %s on %s:%d; its CA is %s",
        settings.authority_host,
        arguments.host,
        settings.simulator_port,
        tls.ca_path,
    )

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    log.info("stopping")
    server.shutdown()


if __name__ == "__main__":
    main()
