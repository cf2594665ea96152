"""API operations declared once: the route, its input and output models, its document.

Each view is registered through ``operation``, which parses and validates the query
and the JSON body with the view's pydantic models, commits a write after the view
returns, renders the response model, and records all of it for the OpenAPI document,
so the document describes exactly what the server does.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Union, get_args, get_origin

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import FileStorage

from interactions.errors import Invalid
from interactions.rate_limits import Budget
from web.context import db

View = Callable[..., Any]


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    public: bool
    upload: str | None
    browser: bool
    integration: bool
    budgets: tuple[Budget, ...]


class Api:
    def __init__(self, blueprint: Blueprint, title: str, version: str) -> None:
        self.blueprint = blueprint
        self.title = title
        self.version = version
        self.operations: list[Operation] = []

    def operation(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        public: bool = False,
        upload: str | None = None,
        browser: bool = False,
        integration: bool = False,
        budgets: tuple[Budget, ...] = (),
    ) -> Callable[[View], View]:
        """``upload`` names the file field of a multipart body, given to the view as
        ``upload``; ``browser`` lets the admin page's scripts call the operation
        with their session instead of a bearer token; ``integration`` is for the
        firm's own systems, with an integration key instead of a person's token;
        ``budgets`` are the rate limits the call counts against beside the general
        one of every call (interactions.rate_limits)."""
        described = Operation(
            method,
            rule,
            summary,
            tag,
            body,
            query,
            response,
            status,
            errors,
            public,
            upload,
            browser,
            integration,
            budgets,
        )

        def register(view: View) -> View:
            @wraps(view)
            def handle(**path: Any) -> Response | tuple[Response, int]:
                arguments = dict(path)
                if query is not None:
                    arguments["query"] = _parse(query, _query_data(query))
                if body is not None:
                    arguments["body"] = _parse(body, _json_body())
                if upload is not None:
                    arguments["upload"] = _uploaded(upload)

                result = view(**arguments)
                if method != "GET":
                    db().commit()

                if result is None:
                    return Response(status=status)

                if isinstance(result, BaseModel):
                    return jsonify(result.model_dump(mode="json")), status

                return jsonify(result), status

            # What the authentication before the view needs to know of it.
            handle.__dict__["operation"] = described
            self.blueprint.add_url_rule(
                rule, endpoint=view.__name__, view_func=handle, methods=[method]
            )
            self.operations.append(described)
            return handle

        return register


def _json_body() -> Any:
    if not request.is_json:
        raise Invalid("Send the request body as JSON (Content-Type: application/json).")

    data = request.get_json(silent=True)
    if data is None:
        raise Invalid("The request body is not valid JSON.")

    return _without_nul(data)


def _without_nul(value: Any) -> Any:
    """The body without NUL characters, which no text column can hold (the query's
    are dropped with the page's, in the app's request class)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def _uploaded(name: str) -> FileStorage:
    uploaded = request.files.get(name)
    if uploaded is None or not uploaded.filename:
        raise Invalid(
            f"Send the file as the “{name}” field of a multipart/form-data body.", name
        )

    return uploaded


def _query_data(model: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        values = request.args.getlist(name)
        if values:
            data[name] = values if _is_list(info.annotation) else values[-1]

    return data


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_list(arg) for arg in get_args(annotation))

    return get_origin(annotation) is list


def _parse(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        label = (field or "The body").replace("_", " ").capitalize()
        if first["type"] == "missing":
            raise Invalid(f"{label} is required.", field) from None

        message = first["msg"].rstrip(".")
        raise Invalid(f"{label}: {message[0].lower()}{message[1:]}.", field) from None


def document(api: Api, prefix: str, error_model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered operation."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for operation in api.operations:
        path, parameters = _path(prefix + operation.rule)
        entry: dict[str, Any] = {
            "summary": operation.summary,
            "operationId": f"{operation.method.lower()}_{_slug(operation.rule)}",
            "tags": [operation.tag],
            "parameters": parameters + _query_parameters(operation.query),
            "responses": _responses(operation, schemas, error_model),
        }
        if operation.public:
            entry["security"] = []
        elif operation.browser:
            entry["security"] = [{"bearer": []}, {"session": []}]
        elif operation.integration:
            entry["security"] = [{"integrationKey": []}]
        if operation.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref(operation.body, schemas)}
                },
            }
        if operation.upload is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": [operation.upload],
                            "properties": {
                                operation.upload: {
                                    "type": "string",
                                    "contentMediaType": "application/octet-stream",
                                }
                            },
                        }
                    }
                },
            }
        paths.setdefault(path, {})[operation.method.lower()] = entry

    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                # The firm's own systems: Authorization: Bearer ixk_...
                "integrationKey": {"type": "http", "scheme": "bearer"},
                # The admin page's own scripts, which also send X-CSRF-Token.
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "interactions_session",
                },
            },
        },
        "security": [{"bearer": []}],
    }


def _responses(
    operation: Operation, schemas: dict[str, Any], error_model: type[BaseModel]
) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ref(error_model, schemas)}}}
    responses: dict[str, Any] = {}
    if operation.status == 204:
        responses["204"] = {"description": "Done."}
    elif operation.response is None:
        responses[str(operation.status)] = {
            "description": "Success.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    else:
        responses[str(operation.status)] = {
            "description": "Success.",
            "content": {
                "application/json": {"schema": _ref(operation.response, schemas)}
            },
        }

    codes = set(operation.errors) | (
        {422} if operation.body or operation.query or operation.upload else set()
    )
    if operation.body or operation.upload:
        codes |= {413}
    if not operation.public:
        codes |= {401, 403, 429}
    for code in sorted(codes):
        responses[str(code)] = {"description": _REASONS[code]} | error
    if "429" in responses:
        responses["429"]["headers"] = {
            "Retry-After": {
                "description": "Whole seconds until the request is taken again.",
                "schema": {"type": "integer", "minimum": 1},
            }
        }

    return responses


_REASONS = {
    401: "The access token is missing or not valid.",
    403: "A right, the tier or an add-on is missing.",
    404: "No such record in your firm.",
    409: "The request breaks a rule.",
    413: "The request is larger than the API takes.",
    422: "A field is missing or malformed.",
    429: "Too many requests from you or your firm; Retry-After says when to retry.",
    503: "A dependency is unavailable.",
}


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        kind = "integer" if converter == "int" else "string"
        parameters.append(
            {"name": name, "in": "path", "required": True, "schema": {"type": kind}}
        )

    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), parameters


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    if model is None:
        return []

    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "title"},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema["properties"].items()
    ]


def _slug(rule: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"<(?:\w+:)?(\w+)>", r"\1", rule)).strip(
        "_"
    )
