"""The API's rate limits per user and per firm: 429 with an honest Retry-After,
nothing stored when refused, and a burst that drains without loss.

Each test sets its own low limits on a simulated clock, in process and, when a Redis
answers, in Redis as every web process of a deployment shares them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interactions import rate_limits
from interactions.errors import TooManyRequests
from interactions.limiter import (
    LocalLimiter,
    MailboxLimiter,
    RedisLimiter,
    Wait,
    Window,
)
from interactions.models import Capture
from interactions.rate_limits import Budget, RateLimits, Rates
from tests.conftest import ApiClient, Factory, openapi_document, unused_port
from tests.test_captures import capture_body, item
from tests.test_limiter import (  # noqa: F401 (fixtures)
    SimulatedClock,
    prefix,
    redis_client,
)
from web.context import RATE_LIMITS

pytestmark = pytest.mark.security

OFF = Rates(0, 0)
Limit = Callable[..., RateLimits]


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock()


@pytest.fixture(params=["local", "redis"])
def shared_limiter(
    request: pytest.FixtureRequest, clock: SimulatedClock
) -> MailboxLimiter:
    """The in-process limiter, or Redis under a key prefix of the test's own."""
    if request.param == "local":
        return LocalLimiter(clock)

    client: redis.Redis = request.getfixturevalue("redis_client")
    return RedisLimiter(client, clock, request.getfixturevalue("prefix"))


@pytest.fixture
def limit(app: Flask, shared_limiter: MailboxLimiter) -> Iterator[Limit]:
    """Set the app's limits for the test: ``limit(captures=Rates(3, 0))``."""

    def set_limits(calls: Rates = OFF, captures: Rates = OFF) -> RateLimits:
        limits = RateLimits(shared_limiter, calls, captures)
        app.extensions[RATE_LIMITS] = limits
        return limits

    yield set_limits


def capture(api: ApiClient, make: Factory, number: int, as_: str = "admin") -> Any:
    firm = "Bright Benefits" if as_ == "other" else "Acme Pensions"
    body = capture_body(
        make,
        item=item(internet_message_id=f"<burst-{number}@northwind.test>"),
        type_id=make.type("Email", firm=firm).id,
    )
    return api.post("/api/v1/captures", body, as_=as_)


def stored(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Capture)) or 0


def test_a_user_over_the_capture_limit_gets_429_and_nothing_is_stored(
    api: ApiClient, make: Factory, db: Session, queue: Any, limit: Limit
) -> None:
    limit(captures=Rates(per_user=3, per_firm=0))

    accepted = [capture(api, make, n).status_code for n in range(3)]
    refused = capture(api, make, 3)

    assert accepted == [202, 202, 202]
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "too_many_requests"
    assert refused.json["error"]["message"] == (
        "You are sending captures faster than 3 a minute; try again in 60 seconds."
    )
    assert refused.headers["Retry-After"] == "60"
    assert stored(db) == 3
    assert len(queue.sent) == 3


def test_retry_after_is_when_the_oldest_request_leaves_the_window_and_then_it_passes(
    api: ApiClient, make: Factory, db: Session, clock: SimulatedClock, limit: Limit
) -> None:
    limit(captures=Rates(per_user=3, per_firm=0))
    for number in range(3):
        capture(api, make, number)
        clock.advance(10)

    refused = capture(api, make, 3)
    clock.advance(int(refused.headers["Retry-After"]))
    after_waiting = capture(api, make, 3)

    # The first was counted 30 s ago: its slot frees 30 s from now.
    assert refused.headers["Retry-After"] == "30"
    assert after_waiting.status_code == 202
    assert stored(db) == 4


def test_a_firms_limit_holds_across_its_users(
    api: ApiClient, make: Factory, db: Session, limit: Limit
) -> None:
    limit(captures=Rates(per_user=0, per_firm=4))

    first = [capture(api, make, n, as_="admin").status_code for n in range(2)]
    second = [capture(api, make, n, as_="editor").status_code for n in range(2, 4)]
    refused = capture(api, make, 4, as_="editor")

    assert first + second == [202] * 4
    assert refused.status_code == 429
    assert refused.json["error"]["message"].startswith(
        "Your firm is sending captures faster than 4 a minute"
    )
    assert stored(db) == 4


def test_one_firms_burst_does_not_throttle_another_firm(
    api: ApiClient, make: Factory, limit: Limit
) -> None:
    limit(captures=Rates(per_user=2, per_firm=2))
    for number in range(2):
        capture(api, make, number)

    assert capture(api, make, 2).status_code == 429
    assert capture(api, make, 3, as_="other").status_code == 202


def test_every_call_counts_against_the_cheaper_general_budget(
    api: ApiClient, limit: Limit
) -> None:
    limit(calls=Rates(per_user=2, per_firm=0))

    statuses = [api.get("/api/v1/me").status_code for _ in range(2)]
    refused = api.get("/api/v1/me")

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.json["error"]["message"].startswith(
        "You are sending requests faster than 2 a minute"
    )
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_refused_capture_counts_against_neither_budget(
    api: ApiClient, make: Factory, clock: SimulatedClock, limit: Limit
) -> None:
    limit(calls=Rates(per_user=3, per_firm=0), captures=Rates(per_user=1, per_firm=0))
    capture(api, make, 0)

    refused = [capture(api, make, n).status_code for n in (1, 2, 3)]

    # Had the refusals been counted as calls, the general budget would be spent.
    assert refused == [429, 429, 429]
    assert api.get("/api/v1/me").status_code == 200


def test_a_burst_of_ten_times_the_rate_is_slowed_and_drains_without_loss(
    api: ApiClient, make: Factory, db: Session, clock: SimulatedClock, limit: Limit
) -> None:
    """A burst of ten times the rate: each 429 is waited out, and all are stored."""
    rate = 3
    limit(captures=Rates(per_user=rate, per_firm=0))
    refusals = 0
    start = clock.now

    for number in range(10 * rate):
        response = capture(api, make, number)
        while response.status_code == 429:
            refusals += 1
            clock.advance(int(response.headers["Retry-After"]))
            response = capture(api, make, number)
        assert response.status_code == 202

    assert stored(db) == 10 * rate
    assert refusals == 9  # one wait for each window after the first
    # Ten windows' worth of captures take nine minutes, and no more.
    assert clock.now - start == 9 * 60


def test_web_processes_sharing_a_limiter_share_the_count(
    api: ApiClient, make: Factory, app: Flask, shared_limiter: MailboxLimiter
) -> None:
    """Two web processes (two RateLimits on one limiter) share one count."""
    captures = Rates(per_user=2, per_firm=0)
    one = RateLimits(shared_limiter, OFF, captures)
    other = RateLimits(shared_limiter, OFF, captures)
    user_id = 1
    one.take(1, user_id, Budget.CAPTURES)
    other.take(1, user_id, Budget.CAPTURES)

    with pytest.raises(TooManyRequests, match="faster than 2 a minute") as refused:
        one.take(1, user_id, Budget.CAPTURES)

    assert refused.value.retry_after == 60
    assert one.refusals(Budget.CAPTURES) == other.refusals(Budget.CAPTURES) == 1


def test_a_redis_that_does_not_answer_lets_requests_pass(
    api: ApiClient, make: Factory, app: Flask
) -> None:
    unreachable = redis.Redis(
        port=unused_port(), socket_timeout=0.5, socket_connect_timeout=0.5
    )
    app.extensions[RATE_LIMITS] = RateLimits(
        RedisLimiter(unreachable), Rates(1, 1), Rates(1, 1)
    )

    assert [capture(api, make, n).status_code for n in range(2)] == [202, 202]


def test_after_redis_fails_requests_pass_without_waiting_on_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tries: list[int] = []

    class Failing(LocalLimiter):
        def reserve(self, windows: list[Window]) -> Wait | None:
            tries.append(len(windows))
            raise redis.ConnectionError("Redis is down")

    limits = RateLimits(Failing(), Rates(1, 1), Rates(1, 1))
    for _ in range(5):
        limits.take(1, 1, Budget.CAPTURES)

    assert len(tries) == 1
    later = time.monotonic() + rate_limits.UNCHECKED_SECONDS + 1
    monkeypatch.setattr(rate_limits.time, "monotonic", lambda: later)
    limits.take(1, 1, Budget.CAPTURES)
    assert len(tries) == 2


def test_refusals_are_counted_in_the_metrics(
    api: ApiClient, make: Factory, app: Flask, limit: Limit
) -> None:
    from tests.test_metrics import app_with_token

    scraped = app_with_token(app, "scrape-me")
    scraped.extensions[RATE_LIMITS] = limit(captures=Rates(per_user=1, per_firm=0))
    capture(api, make, 0)
    capture(api, make, 1)

    text = (
        scraped.test_client()
        .get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        .get_data(as_text=True)
    )

    assert 'interactions_api_refused_requests{budget="captures"} 1.0' in text
    assert 'interactions_api_refused_requests{budget="calls"} 0.0' in text


def test_the_document_lists_429_with_retry_after_on_every_protected_operation() -> None:
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            answer = operation["responses"].get("429")
            assert answer, f"{method.upper()} {path} does not document 429"
            assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"
