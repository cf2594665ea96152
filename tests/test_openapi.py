"""The OpenAPI document is valid and lists exactly the routes the server has."""

from __future__ import annotations

import re

from flask import Flask
from openapi_spec_validator import validate

from tests.conftest import ApiClient


def test_the_document_is_served_without_a_token(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.json["info"]["title"] == "Interactions API"


def test_the_document_is_valid_openapi(app: Flask) -> None:
    validate(app.test_client().get("/api/v1/openapi.json").json)


def test_the_document_lists_every_route_and_no_other(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").json
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }

    assert documented == served


def test_every_protected_operation_documents_401_and_403(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").json
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_errors_share_one_shape(api: ApiClient) -> None:
    not_routed = api.get("/api/v1/no-such-thing")
    unauthenticated = api.client.get("/api/v1/me")

    for response in (not_routed, unauthenticated):
        assert set(response.json) == {"error"}
        assert {"code", "message"} <= set(response.json["error"])


def test_a_body_that_is_not_json_is_refused(api: ApiClient) -> None:
    response = api.call(
        "POST", "/api/v1/interactions", data="title=x", content_type="text/plain"
    )

    assert response.status_code == 422
    assert "JSON" in response.json["error"]["message"]


def test_a_field_of_the_wrong_type_is_named(api: ApiClient) -> None:
    response = api.post("/api/v1/interactions", {"type_id": "email", "title": "x"})

    assert response.status_code == 422
    assert response.json["error"]["field"] == "type_id"


def test_an_unknown_field_is_refused(api: ApiClient) -> None:
    response = api.post("/api/v1/interactions", {"title": "x", "colour": "red"})

    assert response.status_code == 422
    assert response.json["error"]["field"] == "colour"


def test_a_naive_datetime_is_refused(api: ApiClient) -> None:
    response = api.post(
        "/api/v1/interactions",
        {"type_id": 1, "title": "x", "occurred_at": "2026-01-01T10:00:00"},
    )

    assert response.status_code == 422
    assert response.json["error"]["field"] == "occurred_at"
