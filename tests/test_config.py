"""Settings: embedded defaults, and clear errors for bad values."""

from __future__ import annotations

import re

import pytest

from interactions.config import PROJECT_ROOT, ConfigError, load_settings


def test_the_defaults_are_embedded() -> None:
    settings = load_settings({"INSTANCE_PATH": "/srv/interactions"})

    assert settings.database_url == "sqlite:////srv/interactions/interactions.sqlite"
    assert settings.broker_url == "sqla+sqlite:////srv/interactions/broker.sqlite"
    assert settings.result_backend == "db+sqlite:////srv/interactions/results.sqlite"
    assert settings.authority_host == "https://localhost:3001"
    assert settings.graph_url == "https://localhost:3001/v1.0"
    assert settings.graph_send_timeout_seconds == 30.0


def test_postgres_and_redis_are_set_by_the_environment() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql+psycopg://app@db/interactions",
            "CELERY_BROKER_URL": "redis://cache:6379/0",
        }
    )

    assert settings.database_url == "postgresql+psycopg://app@db/interactions"
    assert settings.result_backend == "redis://cache:6379/0"


def test_the_send_timeout_is_set_by_the_environment() -> None:
    settings = load_settings({"GRAPH_SEND_TIMEOUT_SECONDS": "12.5"})

    assert settings.graph_send_timeout_seconds == 12.5


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ENTRA_AUTHORITY_HOST": "http://localhost:3001"}, "ENTRA_AUTHORITY_HOST"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        ({"WEB_PORT": "eighty"}, "WEB_PORT"),
        ({"SIMULATOR_PORT": "70000"}, "SIMULATOR_PORT"),
        ({"MICROSOFT_CA_BUNDLE": "/no/such/ca.pem"}, "MICROSOFT_CA_BUNDLE"),
        ({"GRAPH_SEND_TIMEOUT_SECONDS": "soon"}, "GRAPH_SEND_TIMEOUT_SECONDS"),
        ({"GRAPH_SEND_TIMEOUT_SECONDS": "0"}, "GRAPH_SEND_TIMEOUT_SECONDS"),
        ({"TRUSTED_PROXY_HOPS": "one"}, "TRUSTED_PROXY_HOPS"),
        ({"TRUSTED_PROXY_HOPS": "4"}, "TRUSTED_PROXY_HOPS"),
        ({"CAPTURE_RATE_PER_USER": "-1"}, "CAPTURE_RATE_PER_USER"),
        ({"API_RATE_PER_FIRM": "lots"}, "API_RATE_PER_FIRM"),
    ],
)
def test_bad_settings_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_every_setting_is_documented_with_its_default() -> None:
    """docs/operations.md has a row for each variable the settings read."""
    source = (PROJECT_ROOT / "interactions" / "config.py").read_text()
    read = set(re.findall(r'env(?:\.get\(|, )"([A-Z_]+)"', source))
    rows = (PROJECT_ROOT / "docs" / "operations.md").read_text()

    assert read, "the settings read no variable?"
    assert {name for name in read if f"| `{name}` |" not in rows} == set()
