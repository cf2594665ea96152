"""Behind the TLS-terminating proxy: the app believes its forwarded headers, one hop."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask, request, url_for

from web import create_app
from web.context import Runtime

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def app_behind(app: Flask, hops: int) -> Flask:
    """The test app's runtime, served as if ``hops`` proxies stood in front of it."""
    runtime: Runtime = app.extensions["interactions"]
    settings = dataclasses.replace(runtime.settings, trusted_proxy_hops=hops)
    behind = create_app(dataclasses.replace(runtime, settings=settings))

    @behind.get("/probe")
    def probe() -> dict[str, Any]:
        return {
            "scheme": request.scheme,
            "caller": request.remote_addr,
            "home": url_for("pages.home", _external=True),
        }

    return behind


def probe(app: Flask, headers: dict[str, str]) -> dict[str, Any]:
    response = app.test_client().get(
        "/probe", headers=headers, base_url="http://interactions.example.com"
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.get_json()

    return answer


def test_behind_one_proxy_urls_are_https_and_the_caller_is_the_proxys_client(
    app: Flask,
) -> None:
    answer = probe(app_behind(app, 1), FORWARDED)

    assert answer == {
        "scheme": "https",
        "caller": "203.0.113.9",
        "home": "https://interactions.example.com/",
    }


def test_an_address_the_caller_forged_before_the_proxys_is_ignored(
    app: Flask,
) -> None:
    headers = {**FORWARDED, "X-Forwarded-For": "198.51.100.7, 203.0.113.9"}

    assert probe(app_behind(app, 1), headers)["caller"] == "203.0.113.9"


def test_without_a_trusted_proxy_the_forwarded_headers_are_ignored(
    app: Flask,
) -> None:
    answer = probe(app_behind(app, 0), FORWARDED)

    assert answer["scheme"] == "http"
    assert answer["caller"] == "127.0.0.1"
    assert answer["home"] == "http://interactions.example.com/"


def test_the_sign_in_sends_entra_id_back_to_an_https_callback(app: Flask) -> None:
    response = (
        app_behind(app, 1)
        .test_client()
        .get("/sign-in", headers=FORWARDED, base_url="http://interactions.example.com")
    )

    assert response.status_code == 302
    assert (
        "redirect_uri=https%3A%2F%2Finteractions.example.com%2Fauth%2Fcallback"
        in response.headers["Location"]
    )
