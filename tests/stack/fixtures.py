"""The stack as a pytest fixture, and how big the suites' runs are.

``STACK_SUITE=full`` (``make load``, ``make faults``) runs the issue's durations;
the default, ``short``, is what ``make test`` runs in CI. One stack serves every
test of a session, so that the load and fault suites run in one pytest call start
it once. Without initdb or redis-server the suites skip, saying which is missing,
except under REQUIRE_SERVICES=1, where their absence fails.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bench.common import log
from tests.stack.harness import Stack, StackOptions
from tests.stack.servers import ServiceMissing, postgres_bindir, redis_server_path


@dataclass(frozen=True)
class SuiteSize:
    steady_rate: float
    steady_seconds: float
    #: The burst sends ``burst_factor`` times the steady rate.
    burst_factor: float
    burst_seconds: float
    #: The load under which faults are put in force, and for how long.
    fault_rate: float
    fault_seconds: float
    kill_rounds: int
    redis_outage_seconds: float
    resends: int
    #: How long everything may take to become final after a run.
    drain_timeout: float
    #: Enough people that the steady rate stays within each one's capture budget
    #: (CAPTURE_RATE_PER_USER, 30 a minute): only the burst meets the limits.
    users_per_firm: int


FULL = SuiteSize(
    steady_rate=20,
    steady_seconds=120,
    burst_factor=10,
    burst_seconds=10,
    fault_rate=10,
    fault_seconds=60,
    kill_rounds=10,
    redis_outage_seconds=60,
    resends=20,
    drain_timeout=600,
    users_per_firm=5,
)
SHORT = SuiteSize(
    steady_rate=10,
    steady_seconds=10,
    burst_factor=10,
    burst_seconds=2,
    fault_rate=8,
    fault_seconds=8,
    kill_rounds=3,
    redis_outage_seconds=8,
    resends=6,
    drain_timeout=240,
    users_per_firm=2,
)


def chosen_size() -> SuiteSize:
    return FULL if os.environ.get("STACK_SUITE", "short") == "full" else SHORT


@pytest.fixture(scope="session")
def suite_size() -> SuiteSize:
    return chosen_size()


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    try:
        postgres_bindir()
        redis_server_path()
    except ServiceMissing as missing:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{missing} The stack suites need it (REQUIRE_SERVICES=1).")
        pytest.skip(f"{missing} The stack suites need it.")

    # The simulator's request log would bury a failure's report.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    options = StackOptions(users_per_firm=chosen_size().users_per_firm)
    with Stack.started(options) as running:
        failed_before = request.session.testsfailed
        yield running
        if request.session.testsfailed > failed_before:
            running.keep_logs = True
            log(f"The stack's logs, last lines:\n{running.log_tails()}")
