"""The OpenAPI document, built from the operations the server registers."""

from __future__ import annotations

from typing import Any

from web.api import PREFIX, api
from web.api.openapi import document
from web.api.schemas import Error


@api.operation("GET", "/openapi.json", summary="This document", tag="meta", public=True)
def openapi() -> dict[str, Any]:
    return document(api, PREFIX, Error)
