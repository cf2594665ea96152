"""What the web app needs to know about the Celery broker, without importing worker/.

The domain queues work by task name; here it only asks whether the broker answers,
for ``/readyz``.
"""

from __future__ import annotations

import logging
import threading
import time

from kombu.connection import Connection

logger = logging.getLogger(__name__)

#: The queue the workers consume. Declaring it is idempotent (a worker or the first
#: published task declares it anyway) and makes every transport touch its store:
#: the embedded broker connects lazily, so connecting alone proves nothing there.
_PROBE_QUEUE = "celery"
#: One retry after this pause, so that a single dropped packet does not report the
#: service unready.
_RETRY_PAUSE = 0.1


class BrokerUnavailable(Exception):
    """The broker did not answer; the message names it (no password) and says why."""


def check_broker(broker_url: str, timeout: float = 2.0) -> None:
    """Return if the broker answers within about ``timeout`` seconds; raise if not.

    The probe runs in a daemon thread and is abandoned when the time is up, so that a
    transport that ignores its timeouts (a SQLite file locked by a writer, a host that
    drops packets) cannot hold a readiness probe longer than asked.
    """
    outcome: list[BaseException | None] = []
    probe = threading.Thread(
        target=_probe,
        args=(broker_url, timeout, outcome),
        name="broker-check",
        daemon=True,
    )
    started = time.monotonic()
    probe.start()
    probe.join(timeout)
    where = _redact(broker_url)
    if not outcome:
        raise BrokerUnavailable(
            f"The broker {where} did not answer within {timeout:g} s."
        )

    error = outcome[0]
    if error is not None:
        raise BrokerUnavailable(
            f"The broker {where} cannot be reached: {error}"
        ) from error

    logger.debug("Broker %s answered in %.3f s", where, time.monotonic() - started)


def _probe(
    broker_url: str, timeout: float, outcome: list[BaseException | None]
) -> None:
    # connect_timeout bounds each socket connect on network transports; the sqla
    # transport ignores it and is bounded by the join in check_broker instead.
    try:
        # kombu ships partial annotations; its constructor is not among them.
        broker = Connection(broker_url, connect_timeout=timeout)  # type: ignore[no-untyped-call]
        with broker as connection:
            connection.ensure_connection(
                max_retries=1,
                interval_start=_RETRY_PAUSE,
                interval_step=0,
                interval_max=_RETRY_PAUSE,
                timeout=timeout,
            )
            connection.default_channel.queue_declare(queue=_PROBE_QUEUE)
    except Exception as error:  # any failure at all means "not ready"
        outcome.append(error)
    else:
        outcome.append(None)


def _redact(url: str) -> str:
    """The URL without its password, fit for a log line or an error message."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at:
        return url

    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{colon and ':***'}@{location}"
