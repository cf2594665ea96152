"""Settings, read from the environment once at start and validated then.

Every setting has an embedded default, so that a fresh checkout runs on SQLite, an
embedded broker and the local Microsoft simulator with no configuration at all.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The application (client) id the demo registration uses; real deployments set theirs.
DEMO_CLIENT_ID = "5f0c2a3e-7b1d-4c8e-9a6f-2d4b8e1c0a71"
#: The demo registration's client secret. Only the local simulator accepts it, and a
#: deployment that signs in with a real Entra ID is refused at start without its own.
DEMO_CLIENT_SECRET = "interactions-demo-secret-for-the-local-simulator"

#: The most requests a minute a rate limit may allow; 0 turns a limit off.
MOST_PER_MINUTE = 1_000_000


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    broker_url: str
    result_backend: str
    #: Scheme and host of the identity provider: Entra ID, or the local simulator.
    authority_host: str
    #: A CA bundle to trust when talking to Microsoft; None means the system's.
    microsoft_ca_bundle: str | None
    graph_url: str
    client_id: str
    #: The delegated scope the add-in and the admin page ask for on our own API.
    api_scope_name: str = "access_as_user"
    #: Seconds of clock skew tolerated when checking a token's times.
    token_leeway_seconds: int = 120
    #: Seconds to wait for Graph to answer a send (GRAPH_SEND_TIMEOUT_SECONDS).
    #: Past it the send's outcome is unknown, and the resend looks in Sent Items
    #: before trying again; shorter frees the worker sooner, at the cost of more
    #: such look-ups.
    graph_send_timeout_seconds: float = 30.0
    #: Seconds a web process remembers an API caller's token as valid, with their
    #: account and rights, so that a burst of requests checks them once
    #: (ACTOR_CACHE_SECONDS). A right removed, or an account deactivated, reaches the
    #: API within this time; 0 checks them on every request. The admin page and the
    #: workers always read them afresh.
    actor_cache_seconds: float = 5.0
    #: How many captures one user, and one firm, may send a minute
    #: (CAPTURE_RATE_PER_USER, CAPTURE_RATE_PER_FIRM); 0 turns a limit off.
    capture_rate_per_user: int = 30
    capture_rate_per_firm: int = 300
    #: How many API calls of any kind one user, and one firm, may make a minute
    #: (API_RATE_PER_USER, API_RATE_PER_FIRM); 0 turns a limit off.
    api_rate_per_user: int = 600
    api_rate_per_firm: int = 6000
    #: Seconds between two sweeps of the captures and resends that a lost broker
    #: message or a dead worker left behind (SWEEP_INTERVAL_SECONDS). Work that no
    #: worker took within two sweeps is sent again.
    sweep_interval_seconds: float = 60.0
    #: Seconds Redis waits for a delivered task to be acknowledged before it hands
    #: it to another worker (BROKER_VISIBILITY_TIMEOUT_SECONDS). It must exceed the
    #: longest task and the longest retry delay, or a task runs twice.
    broker_visibility_timeout_seconds: float = 3600.0
    web_port: int = 3000
    simulator_port: int = 3001
    #: How many reverse proxies in front of the web app to believe about the
    #: caller's scheme and address (X-Forwarded-Proto, X-Forwarded-For); 0 believes
    #: none, since without a proxy those headers are whatever the caller sent.
    trusted_proxy_hops: int = 0
    #: Authenticates the API at the token endpoint (on-behalf-of and refresh grants).
    client_secret: str = field(default=DEMO_CLIENT_SECRET, repr=False)
    #: Fernet keys that encrypt the users' token caches, newest first. Empty in the
    #: embedded run, which keeps one generated key in ``instance/token-cache.key``
    #: (see interactions.microsoft.tokens); every other deployment must set them, so
    #: that all its web and worker processes share the same keys.
    token_cache_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Signs the admin page's session cookies. Empty in the embedded run, which
    #: keeps a generated one in ``instance/secret.key`` (see web); every
    #: other deployment must set it, the same in all its web processes.
    secret_key: str = field(default="", repr=False)
    #: The bearer token a Prometheus scrape of /metrics sends; empty turns the
    #: endpoint off.
    metrics_token: str = field(default="", repr=False)
    #: "text" for people, "json" (one object a line) for a log pipeline.
    log_format: str = "text"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def api_audiences(self) -> tuple[str, ...]:
        """What a token's ``aud`` may be: the client id, or its application id URI."""
        return (self.client_id, f"api://{self.client_id}")

    @property
    def api_scope(self) -> str:
        return f"api://{self.client_id}/{self.api_scope_name}"

    def authority(self, tenant_id: str) -> str:
        return f"{self.authority_host}/{tenant_id}"

    def issuer(self, tenant_id: str) -> str:
        return f"{self.authority_host}/{tenant_id}/v2.0"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and check the settings; raise ConfigError naming the first bad one."""
    env = dict(os.environ if environ is None else environ)
    instance_path = Path(
        env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance"
    ).resolve()
    simulator_port = _port(env, "SIMULATOR_PORT", 3001)
    authority_host = (
        env.get("ENTRA_AUTHORITY_HOST") or f"https://localhost:{simulator_port}"
    )
    broker_url = (
        env.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{instance_path}/broker.sqlite"
    )

    settings = Settings(
        instance_path=instance_path,
        database_url=env.get("DATABASE_URL")
        or f"sqlite:///{instance_path}/interactions.sqlite",
        broker_url=broker_url,
        result_backend=env.get("CELERY_RESULT_BACKEND") or _result_backend(broker_url),
        authority_host=authority_host.rstrip("/"),
        microsoft_ca_bundle=env.get("MICROSOFT_CA_BUNDLE") or None,
        graph_url=(env.get("GRAPH_URL") or f"{authority_host}/v1.0").rstrip("/"),
        client_id=env.get("API_CLIENT_ID") or DEMO_CLIENT_ID,
        actor_cache_seconds=_seconds(env, "ACTOR_CACHE_SECONDS", 5.0, 60.0, zero=True),
        capture_rate_per_user=_count(env, "CAPTURE_RATE_PER_USER", 30, MOST_PER_MINUTE),
        capture_rate_per_firm=_count(
            env, "CAPTURE_RATE_PER_FIRM", 300, MOST_PER_MINUTE
        ),
        api_rate_per_user=_count(env, "API_RATE_PER_USER", 600, MOST_PER_MINUTE),
        api_rate_per_firm=_count(env, "API_RATE_PER_FIRM", 6000, MOST_PER_MINUTE),
        sweep_interval_seconds=_seconds(env, "SWEEP_INTERVAL_SECONDS", 60.0, 3600.0),
        broker_visibility_timeout_seconds=_seconds(
            env, "BROKER_VISIBILITY_TIMEOUT_SECONDS", 3600.0, 86400.0
        ),
        web_port=_port(env, "WEB_PORT", 3000),
        trusted_proxy_hops=_count(env, "TRUSTED_PROXY_HOPS", 0, 3),
        simulator_port=simulator_port,
        graph_send_timeout_seconds=_seconds(
            env, "GRAPH_SEND_TIMEOUT_SECONDS", 30.0, 600.0
        ),
        client_secret=env.get("API_CLIENT_SECRET") or DEMO_CLIENT_SECRET,
        token_cache_keys=_fernet_keys(env.get("TOKEN_CACHE_KEYS") or ""),
        secret_key=env.get("SECRET_KEY") or "",
        metrics_token=env.get("METRICS_TOKEN") or "",
        log_format=_choice(env, "LOG_FORMAT", ("text", "json")),
    )
    _check(settings)

    return settings


def _result_backend(broker_url: str) -> str:
    if broker_url.startswith(("redis://", "rediss://")):
        return broker_url

    if broker_url.startswith("sqla+"):
        return "db+" + broker_url.removeprefix("sqla+").replace("broker", "results")

    return "rpc://"


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``, the first when not set."""
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default

    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name} must be a port number, not {raw!r}.")

    return int(raw)


def _count(env: dict[str, str], name: str, default: int, most: int) -> int:
    """A whole number from 0 up to ``most``."""
    raw = env.get(name)
    if not raw:
        return default

    if not raw.strip().isdigit() or int(raw) > most:
        raise ConfigError(
            f"{name} must be a whole number from 0 to {most}, not {raw!r}."
        )

    return int(raw)


def _seconds(
    env: dict[str, str], name: str, default: float, most: float, zero: bool = False
) -> float:
    """Seconds, up to ``most``; 0 too when ``zero`` (which turns a thing off)."""
    raw = env.get(name)
    if not raw:
        return default

    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value >= 0 if zero else value > 0) or value > most:
        least = "from 0" if zero else "above 0 and"
        raise ConfigError(
            f"{name} must be a number of seconds {least} up to {most:g}, not {raw!r}."
        )

    return value


def _fernet_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            # The message never repeats the value: it is a secret.
            raise ConfigError(
                "TOKEN_CACHE_KEYS must be comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each)."
            ) from None

    return keys


def is_local_url(url: str) -> bool:
    """Whether ``url`` names this machine (localhost or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(settings: Settings) -> None:
    if urlsplit(settings.authority_host).scheme != "https":
        raise ConfigError("ENTRA_AUTHORITY_HOST must be an https URL.")

    if not settings.database_url.startswith(("sqlite", "postgresql")):
        raise ConfigError("DATABASE_URL must be a sqlite:// or postgresql:// URL.")

    bundle = settings.microsoft_ca_bundle
    if bundle is not None and not Path(bundle).is_file():
        raise ConfigError(f"MICROSOFT_CA_BUNDLE names no file: {bundle}.")

    # A real Entra ID (anything but the local simulator) needs the registration's own
    # secret, keys that every web and worker process shares, and a session key.
    if not is_local_url(settings.authority_host):
        if settings.client_secret == DEMO_CLIENT_SECRET:
            raise ConfigError(
                "API_CLIENT_SECRET must be set to a client secret of the Entra "
                "registration."
            )

        if not settings.token_cache_keys:
            raise ConfigError(
                "TOKEN_CACHE_KEYS must be set: every web and worker process needs "
                "the same keys to read the token caches."
            )

        if len(settings.secret_key) < 32:
            raise ConfigError(
                "SECRET_KEY must be set to at least 32 random characters, the same "
                "in every web process: it signs the admin page's sessions."
            )
