"""The load suite: captures from many users of 20 firms, at a steady rate, then in a
burst of ten times that rate, against gunicorn, Celery on Redis, and PostgreSQL.

Run with ``make load`` (the issue's durations) or ``make load-short``; ``make test``
runs the short one. Each test records its figures, which the summary prints.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.stack.fixtures import SuiteSize
from tests.stack.harness import Stack
from tests.stack.load import LoadClient, check_ledger, stored_latency_ms

pytestmark = pytest.mark.load

Record = Callable[[str, object], None]


def test_a_steady_rate_stores_each_message_once(
    stack: Stack, suite_size: SuiteSize, record_property: Record
) -> None:
    """A steady rate, a tenth resubmitted: no 5xx, every capture stored or duplicate,
    one interaction per distinct message of each firm"""
    steady = LoadClient(stack).run(suite_size.steady_rate, suite_size.steady_seconds)
    drain_seconds = stack.wait_final(
        steady.ledger.capture_ids, suite_size.drain_timeout
    )

    statuses = check_ledger(stack, steady.ledger)
    p50, p95 = stored_latency_ms(stack, steady.ledger)
    record_property("load", steady.summary("steady"))
    record_property(
        "final",
        f"{dict(statuses)}; capture to stored p50 {p50:.0f} ms, p95 {p95:.0f} ms; "
        f"last final {drain_seconds:.1f} s after the last send",
    )
    assert steady.achieved_rate >= 0.8 * suite_size.steady_rate


def test_a_burst_of_ten_times_the_rate_loses_nothing_and_drains(
    stack: Stack, suite_size: SuiteSize, record_property: Record
) -> None:
    """A burst of ten times the rate: 429 with Retry-After allowed, nothing lost, the
    backlog drains"""
    rate = suite_size.steady_rate * suite_size.burst_factor
    burst = LoadClient(stack, senders=48).run(rate, suite_size.burst_seconds)
    drain_seconds = stack.wait_final(burst.ledger.capture_ids, suite_size.drain_timeout)

    statuses = check_ledger(stack, burst.ledger)
    p50, p95 = stored_latency_ms(stack, burst.ledger)
    record_property("load", burst.summary("burst"))
    record_property(
        "final",
        f"{dict(statuses)}; capture to stored p50 {p50:.0f} ms, p95 {p95:.0f} ms; "
        f"backlog drained {drain_seconds:.1f} s after the last send",
    )
