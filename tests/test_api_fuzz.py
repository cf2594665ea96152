"""Schemathesis: the OpenAPI document, run against the live API, finds no 5xx.

Every operation is called with requests generated from its documented schema, as a
signed-in administrator; whatever the input, the API answers below 500.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from tests.conftest import TokenSource

pytestmark = pytest.mark.badinput

EXAMPLES_PER_OPERATION = 30


def test_no_input_makes_the_api_fail(app: Flask, tokens: TokenSource) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {tokens('admin')}"}
    failures: list[str] = []
    tried = 0

    for found in schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} "
                    f"{response.text[:200]}"
                )

        call()
        tried += 1

    assert tried >= 20, "the document lists every operation"
    assert failures == []
