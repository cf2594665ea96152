"""Structured logs: one JSON object a line, with the request's and the task's id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from interactions import logs
from worker import app as worker_app


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.WithIds())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("interactions.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_is_answered_with_its_id_and_its_lines_carry_it(
    app: Flask, captured: io.StringIO
) -> None:
    @app.get("/test-logs")
    def logs_something() -> str:
        logging.getLogger("interactions.test_logs").info("inside the request")
        return "ok"

    answer = app.test_client().get("/test-logs", headers={"X-Request-Id": "abc-123"})

    assert answer.headers["X-Request-Id"] == "abc-123"
    (line,) = lines(captured)
    assert (line["message"], line["request_id"], line["level"]) == (
        "inside the request",
        "abc-123",
        "info",
    )


def test_a_callers_id_that_is_not_a_plain_token_is_replaced(app: Flask) -> None:
    answer = app.test_client().get(
        "/healthz", headers={"X-Request-Id": "<script>" + "x" * 80}
    )

    assert len(answer.headers["X-Request-Id"]) == 32
    assert "<" not in answer.headers["X-Request-Id"]


def test_each_request_without_an_id_gets_a_new_one(app: Flask) -> None:
    client = app.test_client()

    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]

    assert first != second


def test_a_tasks_lines_carry_its_id(captured: io.StringIO) -> None:
    worker_app._task_id_on_logs(task_id="task-42")
    logging.getLogger("interactions.test_logs").warning("inside the task")
    worker_app._task_id_off_logs()
    logging.getLogger("interactions.test_logs").warning("after it")

    first, second = lines(captured)
    assert (first["task_id"], second["task_id"]) == ("task-42", "")


def test_an_exception_is_one_line_with_its_traceback(captured: io.StringIO) -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("interactions.test_logs").exception("it failed")

    (line,) = lines(captured)
    assert "ValueError: broken" in line["exception"]
