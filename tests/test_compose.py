"""The production-like stack: docker-compose.yml and the Dockerfile, read as files.

No Docker engine runs the tests, so the compose file is loaded with PyYAML, its
variables are substituted the way compose does it, and its wiring is checked against
the code: the settings it sets are the ones the service reads, the commands start the
real entry points, the URLs name the services that exist.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from interactions.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_PATH = ROOT / "docker-compose.yml"
DOCKERFILE_PATH = ROOT / "Dockerfile"
CONFIG_PATH = ROOT / "interactions" / "config.py"

CELERY_APP = "worker.app:celery_app"
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING_SERVICES = {"postgres", "redis", "web", "worker", "beat"}

#: What a deployment provides; stand-ins, none of them real.
DEPLOYMENT_ENV = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "API_CLIENT_ID": "3c1e9a52-0d4b-4f7e-8a61-9b2c5d7e4f10",
    "API_CLIENT_SECRET": "compose-test-client-secret",
    "TOKEN_CACHE_KEYS": "xZrGbCw0TjH4k9Qy8Fv2LmN1pR5sD7eA3uI6oK0jW9c=",
    "SECRET_KEY": "compose-test-secret-key-of-at-least-32-characters",
}

#: Setting names that hold credentials, or that would pin a deployment if baked in.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL|CLIENT_ID", re.I)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:-|-|:\?|\?|:\+|\+)(?P<word>.*))?",
    re.S,
)


class MissingVariableError(Exception):
    """A required variable (``${NAME:?message}``) has no value."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Substitute variables in every string of a compose document, as compose does."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}

    if isinstance(value, list):
        return [interpolate(item, env) for item in value]

    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: _substitute(match, env), value)

    return value


def _substitute(match: re.Match[str], env: dict[str, str]) -> str:
    if match["escaped"]:
        return "$"

    if match["named"]:
        return env.get(match["named"], "")

    braced = _BRACED.fullmatch(match["braced"])
    assert braced, f"compose cannot read the variable ${{{match['braced']}}}"
    name, operator, word = braced["name"], braced["operator"] or "", braced["word"]
    # With a colon, an empty value counts as missing; without one, only an unset one.
    is_present = bool(env.get(name)) if operator.startswith(":") else name in env

    if operator.endswith("?") and not is_present:
        raise MissingVariableError(name, word)

    if operator.endswith("-") and not is_present:
        return word

    if operator.endswith("+"):
        return word if is_present else ""

    return env.get(name, "")


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))
    assert isinstance(document, dict)

    return document


RAW_COMPOSE = load_compose()
COMPOSE = interpolate(RAW_COMPOSE, DEPLOYMENT_ENV)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def dependencies(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``depends_on`` in its long form, whichever form the file uses."""
    depends_on = service.get("depends_on", {})
    if isinstance(depends_on, list):
        return {name: {"condition": "service_started"} for name in depends_on}

    return depends_on


def command(service: dict[str, Any]) -> list[str]:
    raw = service.get("command", [])

    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def option(arguments: list[str], *names: str) -> str | None:
    """The value of a command-line option, given as ``-x value`` or ``--name=value``."""
    for index, argument in enumerate(arguments):
        if argument in names and index + 1 < len(arguments):
            return arguments[index + 1]

        for name in names:
            if name.startswith("--") and argument.startswith(f"{name}="):
                return argument.removeprefix(f"{name}=")

    return None


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]

    return test if isinstance(test, str) else " ".join(test[1:])


def service_running(image: str) -> str:
    """The name of the one service that runs an image, such as ``postgres``."""
    names = [
        name
        for name, service in SERVICES.items()
        if service.get("image", "").split(":")[0] == image
    ]
    assert len(names) == 1, f"expected one {image} service, found {names}"

    return names[0]


def one_shot_services() -> set[str]:
    """Services others wait to see finish, rather than to see healthy."""
    return {
        name
        for service in SERVICES.values()
        for name, dependency in dependencies(service).items()
        if dependency.get("condition") == "service_completed_successfully"
    }


def internal_networks() -> set[str]:
    return {
        name
        for name, network in (COMPOSE.get("networks") or {}).items()
        if network and network.get("internal") is True
    }


def setting_names() -> set[str]:
    """The environment variables interactions/config.py reads."""
    source = CONFIG_PATH.read_text(encoding="utf-8")
    names = set(re.findall(r'env\.get\("([A-Z0-9_]+)"\)', source))
    names |= set(re.findall(r'_[a-z]+\(env, "([A-Z0-9_]+)"', source))
    assert names, "no setting names found in interactions/config.py"

    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, with continuation lines joined."""
    text = DOCKERFILE_PATH.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))

    return instructions


def test_the_stack_runs_the_five_long_running_services() -> None:
    assert set(SERVICES) - one_shot_services() == LONG_RUNNING_SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_an_image_or_a_build(name: str) -> None:
    assert "image" in SERVICES[name] or "build" in SERVICES[name]


@pytest.mark.parametrize("name", sorted(LONG_RUNNING_SERVICES))
def test_every_long_running_service_has_a_healthcheck(name: str) -> None:
    assert healthcheck_text(SERVICES[name]).strip()


@pytest.mark.parametrize("name", sorted(one_shot_services()))
def test_one_shot_services_are_not_restarted(name: str) -> None:
    assert SERVICES[name].get("restart") == "no"
    assert "healthcheck" not in SERVICES[name]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_names_existing_services(name: str) -> None:
    for dependency, details in dependencies(SERVICES[name]).items():
        assert dependency in SERVICES
        expected = (
            "service_completed_successfully"
            if dependency in one_shot_services()
            else "service_healthy"
        )
        assert details.get("condition") == expected, f"{name} -> {dependency}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_one_environment(name: str) -> None:
    assert SERVICES[name]["environment"] == COMPOSE["x-app-env"]


def test_every_app_setting_is_one_the_service_reads() -> None:
    assert set(COMPOSE["x-app-env"]) <= setting_names()


def test_load_settings_accepts_the_app_environment() -> None:
    settings = load_settings(COMPOSE["x-app-env"])

    assert not settings.is_sqlite
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.broker_url.startswith("redis://")
    assert settings.result_backend.startswith("redis://")
    assert settings.result_backend != settings.broker_url
    assert settings.authority_host == "https://login.microsoftonline.com"
    assert settings.graph_url == "https://graph.microsoft.com/v1.0"
    assert settings.client_id == DEPLOYMENT_ENV["API_CLIENT_ID"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENT_ENV))
def test_compose_refuses_to_start_without_a_required_variable(name: str) -> None:
    environment = {key: value for key, value in DEPLOYMENT_ENV.items() if key != name}

    with pytest.raises(MissingVariableError) as missing:
        interpolate(RAW_COMPOSE, environment)

    assert missing.value.name == name


def test_secrets_come_only_from_required_variables() -> None:
    for name, service in RAW_COMPOSE["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", value), f"{name}.{key}"

    database_url = RAW_COMPOSE["x-app-env"]["DATABASE_URL"]
    assert re.search(r"://[^:/@]+:\$\{POSTGRES_PASSWORD:\?[^}]+\}@", database_url)


@pytest.mark.parametrize("field", ["host", "username", "password", "database"])
def test_database_url_agrees_with_the_postgres_service(field: str) -> None:
    name = service_running("postgres")
    postgres = SERVICES[name]["environment"]
    url = urlsplit(COMPOSE["x-app-env"]["DATABASE_URL"])
    actual = {
        "host": url.hostname,
        "username": url.username,
        "password": url.password,
        "database": url.path.removeprefix("/"),
    }
    expected = {
        "host": name,
        "username": postgres["POSTGRES_USER"],
        "password": postgres["POSTGRES_PASSWORD"],
        "database": postgres["POSTGRES_DB"],
    }

    assert actual[field] == expected[field]


@pytest.mark.parametrize("key", ["CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"])
def test_redis_urls_name_the_redis_service(key: str) -> None:
    url = urlsplit(COMPOSE["x-app-env"][key])

    assert url.scheme == "redis"
    assert url.hostname == service_running("redis")
    assert url.port in (None, 6379)


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_backing_services_are_only_on_the_internal_network(name: str) -> None:
    networks = set(SERVICES[name].get("networks") or [])

    assert networks
    assert networks <= internal_networks()
    assert "ports" not in SERVICES[name]


def test_web_is_published_on_a_network_that_is_not_internal() -> None:
    web = SERVICES["web"]

    assert set(web["networks"]) - internal_networks()
    assert web["ports"]


def test_postgres_keeps_its_data_on_a_named_volume() -> None:
    volumes = SERVICES[service_running("postgres")]["volumes"]
    sources = {volume.split(":")[0] for volume in volumes if isinstance(volume, str)}

    assert sources & set(COMPOSE["volumes"])


def test_web_runs_the_app_factory_under_gunicorn() -> None:
    arguments = command(SERVICES["web"])

    assert arguments[0] == "gunicorn"
    assert arguments[-1] == "web:create_app()"
    assert option(arguments, "-b", "--bind") == "0.0.0.0:3000"
    assert option(arguments, "-k", "--worker-class") in (None, "sync")
    assert 2 <= int(option(arguments, "-w", "--workers") or 1) <= 8


def test_web_healthcheck_probes_healthz_on_the_published_port() -> None:
    web = SERVICES["web"]
    bind = option(command(web), "-b", "--bind")
    assert bind is not None
    bound_port = bind.rpartition(":")[2]
    probe = re.search(
        r"http://(?:127\.0\.0\.1|localhost):(\d+)/healthz", healthcheck_text(web)
    )

    assert probe and probe[1] == bound_port
    assert any(str(port).endswith(f":{bound_port}") for port in web["ports"])


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_celery_services_run_the_celery_app(name: str) -> None:
    arguments = command(SERVICES[name])

    assert arguments[0] == "celery"
    assert option(arguments, "-A", "--app") == CELERY_APP
    assert name in arguments


def test_every_celery_invocation_names_the_celery_app() -> None:
    texts = [" ".join(command(service)) for service in SERVICES.values()]
    texts += [healthcheck_text(s) for s in SERVICES.values() if "healthcheck" in s]
    targets = [
        target
        for text in texts
        for target in re.findall(r"celery\s+(?:-A|--app)[\s=](\S+)", text)
    ]

    assert targets
    assert set(targets) == {CELERY_APP}


def test_worker_runs_two_prefork_processes() -> None:
    arguments = command(SERVICES["worker"])

    assert option(arguments, "-P", "--pool") == "prefork"
    assert option(arguments, "-c", "--concurrency") == "2"


def test_migrations_run_before_the_services_that_use_the_schema() -> None:
    assert command(SERVICES["migrate"]) == ["python", "-m", "interactions.migrate"]

    for name in ("web", "worker"):
        condition = dependencies(SERVICES[name])["migrate"]["condition"]
        assert condition == "service_completed_successfully"


@pytest.mark.parametrize(
    ("path", "name"),
    [("web/__init__.py", "create_app"), ("worker/app.py", "celery_app")],
)
def test_entry_points_define_what_the_commands_name(path: str, name: str) -> None:
    module = ROOT / path
    if not module.exists():
        pytest.skip(f"{path} is not written yet")

    tree = ast.parse(module.read_text(encoding="utf-8"))
    defined = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            defined |= {alias.asname or alias.name for alias in node.names}

    assert name in defined


def test_the_image_installs_the_project_as_a_user_that_is_not_root() -> None:
    instructions = dockerfile_instructions()
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]

    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert any(
        keyword == "RUN" and re.search(r"pip install \.(\s|$)", arguments)
        for keyword, arguments in instructions
    )
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_image_bakes_in_no_settings_and_no_secrets() -> None:
    for keyword, arguments in dockerfile_instructions():
        if keyword in ("ENV", "ARG"):
            names = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", arguments))
            names |= {arguments.split()[0].split("=")[0]}
            assert not names & setting_names(), arguments
            assert not any(SECRET_NAME.search(name) for name in names), arguments

        assert not CREDENTIALS_IN_URL.search(arguments), keyword


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_commands_bake_in_no_secrets(name: str) -> None:
    service = RAW_COMPOSE["services"][name]
    raw = service.get("command", "")
    text = raw if isinstance(raw, str) else " ".join(str(part) for part in raw)
    if "healthcheck" in service:
        text += " " + str(service["healthcheck"]["test"])

    assert not CREDENTIALS_IN_URL.search(text)
    assert not any(variable in text for variable in DEPLOYMENT_ENV)
    assert not any(value in text for value in DEPLOYMENT_ENV.values())
