"""The production-like stack: docker-compose.yml, its demo override, the proxy's
configuration and the Dockerfile, read as files.

No Docker engine runs the tests, so the compose files are loaded with PyYAML, their
variables are substituted and the override merged the way compose does it, and their
wiring is checked against the code: the settings they set are the ones the service
reads, the commands start the real entry points, the URLs name the services that
exist, and the proxy sends its requests to the port web listens on.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from interactions.config import load_settings
from web import MAX_REQUEST_BYTES
from web.devcert import ensure_local_tls

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_PATH = ROOT / "docker-compose.yml"
DEMO_COMPOSE_PATH = ROOT / "docker-compose.demo.yml"
DOCKERFILE_PATH = ROOT / "Dockerfile"
CONFIG_PATH = ROOT / "interactions" / "config.py"

CELERY_APP = "worker.app:celery_app"
APP_SERVICES = ("migrate", "web", "worker", "beat")
#: What ``docker compose up`` runs, with no profile.
LONG_RUNNING_SERVICES = {"postgres", "redis", "proxy", "web", "worker", "beat"}
#: What each profile adds.
PROFILE_SERVICES = {"flower": "monitoring", "simulator": "demo"}

#: What a deployment provides; stand-ins, none of them real.
DEPLOYMENT_ENV = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "API_CLIENT_ID": "3c1e9a52-0d4b-4f7e-8a61-9b2c5d7e4f10",
    "API_CLIENT_SECRET": "compose-test-client-secret",
    "TOKEN_CACHE_KEYS": "xZrGbCw0TjH4k9Qy8Fv2LmN1pR5sD7eA3uI6oK0jW9c=",
    "SECRET_KEY": "compose-test-secret-key-of-at-least-32-characters",
}

#: Setting names that hold credentials, or that would pin a deployment if baked in.
SECRET_NAME = re.compile(
    r"PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL|CLIENT_ID|BASIC_AUTH", re.I
)
#: Flower's users and passwords: required only when its profile runs.
FLOWER_AUTH = "FLOWER_BASIC_AUTH"
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


def load_compose(path: Path = COMPOSE_PATH) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)

    return document


def mount_target(volume: str) -> str:
    return volume.split(":")[1]


def merge(base: Any, override: Any, key: str = "") -> Any:
    """An override file's value merged over the base's, as compose merges them:
    mappings key by key, volumes by the path they are mounted at, and any other
    value replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge(base[name], value, name) if name in base else value
        return merged

    if key == "volumes" and isinstance(base, list) and isinstance(override, list):
        targets = {mount_target(volume) for volume in override}
        return [v for v in base if mount_target(v) not in targets] + override

    return override


RAW_COMPOSE = load_compose()
COMPOSE = interpolate(RAW_COMPOSE, DEPLOYMENT_ENV)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DEFAULT_SERVICES = {
    name: service for name, service in SERVICES.items() if not service.get("profiles")
}
DEMO_OVERRIDE = load_compose(DEMO_COMPOSE_PATH)
DEMO_COMPOSE = merge(COMPOSE, interpolate(DEMO_OVERRIDE, DEPLOYMENT_ENV))
DEMO_SERVICES: dict[str, dict[str, Any]] = DEMO_COMPOSE["services"]

PROXY_CONFIG_PATH = ROOT / "deploy" / "nginx" / "default.conf.template"
PROXY_CONFIG = PROXY_CONFIG_PATH.read_text(encoding="utf-8")


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


def test_the_stack_runs_the_six_long_running_services_by_default() -> None:
    assert set(DEFAULT_SERVICES) - one_shot_services() == LONG_RUNNING_SERVICES


@pytest.mark.parametrize(("name", "profile"), sorted(PROFILE_SERVICES.items()))
def test_optional_services_run_only_in_their_profile(name: str, profile: str) -> None:
    assert SERVICES[name]["profiles"] == [profile]
    assert name not in DEFAULT_SERVICES


def test_the_services_that_always_run_depend_on_no_optional_one() -> None:
    for name, service in DEFAULT_SERVICES.items():
        assert not set(dependencies(service)) & set(PROFILE_SERVICES), name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_an_image_or_a_build(name: str) -> None:
    assert "image" in SERVICES[name] or "build" in SERVICES[name]


@pytest.mark.parametrize("name", sorted(LONG_RUNNING_SERVICES | set(PROFILE_SERVICES)))
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
    assert settings.trusted_proxy_hops == 1


@pytest.mark.parametrize("name", sorted(DEPLOYMENT_ENV))
def test_compose_refuses_to_start_without_a_required_variable(name: str) -> None:
    environment = {key: value for key, value in DEPLOYMENT_ENV.items() if key != name}

    with pytest.raises(MissingVariableError) as missing:
        interpolate(RAW_COMPOSE, environment)

    assert missing.value.name == name


def test_secrets_come_only_from_required_variables() -> None:
    for name, service in RAW_COMPOSE["services"].items():
        for key, value in (service.get("environment") or {}).items():
            # A *_FILE setting names a mounted file; what it holds is the secret.
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                if key == FLOWER_AUTH:
                    continue  # checked when its container starts; see below
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


def test_web_is_reached_only_through_the_proxy() -> None:
    web = SERVICES["web"]

    assert "ports" not in web
    assert set(web["networks"]) & set(SERVICES["proxy"]["networks"])


def test_the_proxy_alone_is_published_on_https_and_http() -> None:
    published = {
        name for name, service in DEFAULT_SERVICES.items() if service.get("ports")
    }

    assert published == {"proxy"}
    assert set(SERVICES["proxy"]["ports"]) == {"443:443", "80:80"}
    assert set(SERVICES["proxy"]["networks"]) - internal_networks()


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


def web_port() -> str:
    bind = option(command(SERVICES["web"]), "-b", "--bind")
    assert bind is not None

    return bind.rpartition(":")[2]


def test_web_healthcheck_probes_healthz_on_the_bound_port() -> None:
    probe = re.search(
        r"http://(?:127\.0\.0\.1|localhost):(\d+)/healthz",
        healthcheck_text(SERVICES["web"]),
    )

    assert probe and probe[1] == web_port()


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


# -- the TLS proxy -----------------------------------------------------------------


def directives(name: str) -> list[str]:
    """The arguments of every ``name`` directive in the proxy's configuration."""
    return [
        match.strip()
        for match in re.findall(rf"^\s*{name}\s+([^;{{]*)[;{{]", PROXY_CONFIG, re.M)
    ]


def server_blocks() -> list[str]:
    """The text of each ``server { ... }`` block, braces balanced."""
    blocks = []
    for start in (m.end() for m in re.finditer(r"^server\s*\{", PROXY_CONFIG, re.M)):
        depth, index = 1, start
        while depth:
            depth += {"{": 1, "}": -1}.get(PROXY_CONFIG[index], 0)
            index += 1
        blocks.append(PROXY_CONFIG[start:index])

    return blocks


def server_listening_on(port: str) -> str:
    found = [b for b in server_blocks() if re.search(rf"listen\s+{port}\b", b)]
    assert len(found) == 1, f"expected one server on port {port}"

    return found[0]


def test_the_proxy_sends_requests_to_the_port_web_listens_on() -> None:
    upstreams = dict(re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", PROXY_CONFIG))
    https = server_listening_on("443")
    target = re.search(r"proxy_pass\s+http://([^/;\s]+)", https)

    assert target and target[1] in upstreams
    assert re.findall(r"server\s+([^;\s]+)", upstreams[target[1]]) == [
        f"web:{web_port()}"
    ]


def test_the_proxy_terminates_tls_and_redirects_http_to_https() -> None:
    https = server_listening_on("443")
    http = server_listening_on("80")

    assert re.search(r"listen\s+443\s+ssl\s+default_server", https)
    assert re.search(r"listen\s+80\s+default_server", http)
    assert re.search(r"return\s+301\s+https://\$host\$request_uri", http)
    assert "proxy_pass" not in http


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Forwarded-Proto", "$scheme"),
        ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
        ("Host", "$host"),
        ("X-Request-Id", "$request_id"),
    ],
)
def test_the_proxy_writes_the_headers_the_app_believes(header: str, value: str) -> None:
    assert f"{header} {value}" in directives("proxy_set_header")


def test_the_proxy_sends_hsts_on_https_only() -> None:
    hsts = re.search(
        r'add_header\s+Strict-Transport-Security\s+"max-age=(\d+)[^"]*"\s+always',
        server_listening_on("443"),
    )

    assert hsts and int(hsts[1]) >= 180 * 24 * 3600
    assert "Strict-Transport-Security" not in server_listening_on("80")


def test_the_proxy_sets_no_header_the_app_sets_itself() -> None:
    # Two values of one of these would be read as the stricter, or as none.
    added = {line.split()[0] for line in directives("add_header")}

    assert added == {"Strict-Transport-Security"}


def test_the_proxy_accepts_the_bodies_the_app_accepts() -> None:
    (limit,) = directives("client_max_body_size")

    assert limit.endswith("m") and int(limit[:-1]) * 1024 * 1024 >= MAX_REQUEST_BYTES


def test_the_proxy_reads_its_template_and_certificates_from_its_mounts() -> None:
    proxy = SERVICES["proxy"]
    mounts = {mount_target(v): v.split(":")[0] for v in proxy["volumes"]}
    certificates = directives("ssl_certificate") + directives("ssl_certificate_key")

    assert (ROOT / mounts["/etc/nginx/templates"] / PROXY_CONFIG_PATH.name).is_file()
    # Rendered as conf.d/default.conf, it replaces the image's welcome site, which
    # would otherwise answer on port 80 too.
    assert PROXY_CONFIG_PATH.name == "default.conf.template"
    assert certificates
    assert all(path.startswith("/etc/nginx/tls/") for path in certificates)
    assert "/etc/nginx/tls" in mounts


def test_every_variable_of_the_template_is_set_on_the_proxy() -> None:
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", PROXY_CONFIG))

    assert variables == {"TLS_CERTIFICATE_FILE", "TLS_KEY_FILE"}
    assert variables <= set(SERVICES["proxy"]["environment"])


def test_the_proxy_healthcheck_probes_a_port_it_listens_on() -> None:
    probe = re.search(
        r"http://127\.0\.0\.1:(\d+)/healthz", healthcheck_text(SERVICES["proxy"])
    )

    assert probe
    assert "return 200" in server_listening_on(f"127.0.0.1:{probe[1]}")


def test_the_proxy_waits_for_web_to_be_healthy() -> None:
    assert dependencies(SERVICES["proxy"])["web"]["condition"] == "service_healthy"


# -- Flower ------------------------------------------------------------------------


def test_flower_watches_the_apps_broker() -> None:
    flower = SERVICES["flower"]

    assert (
        flower["environment"]["CELERY_BROKER_URL"]
        == (COMPOSE["x-app-env"]["CELERY_BROKER_URL"])
    )


def test_flower_is_published_on_the_loopback_only() -> None:
    assert all(
        str(port).startswith("127.0.0.1:") for port in SERVICES["flower"]["ports"]
    )


def run_flower_command(
    tmp_path: Path, basic_auth: str
) -> subprocess.CompletedProcess[str]:
    """Flower's command as its container runs it, with a stand-in for celery."""
    celery = tmp_path / "celery"
    celery.write_text('#!/bin/sh\necho "celery $*"\n')
    celery.chmod(0o755)
    arguments = command(SERVICES["flower"])
    # Compose turns $$ into $ when it reads the file.
    arguments = [argument.replace("$$", "$") for argument in arguments]

    return subprocess.run(
        arguments,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", FLOWER_AUTH: basic_auth},
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )


def test_flower_refuses_to_start_without_basic_auth(tmp_path: Path) -> None:
    assert RAW_COMPOSE["services"]["flower"]["environment"][FLOWER_AUTH] == (
        f"${{{FLOWER_AUTH}:-}}"
    )

    result = run_flower_command(tmp_path, "")

    assert result.returncode != 0
    assert FLOWER_AUTH in result.stderr
    assert "celery" not in result.stdout


def test_flower_starts_with_basic_auth(tmp_path: Path) -> None:
    result = run_flower_command(tmp_path, "ops:a-long-password")

    assert result.returncode == 0
    assert result.stdout.strip() == "celery flower"


# -- the demo: the simulator ---------------------------------------------------------


SIMULATOR = SERVICES["simulator"]


def simulator_origin() -> str:
    origin: str = SIMULATOR["environment"]["ENTRA_AUTHORITY_HOST"]

    return origin


def test_the_simulator_runs_its_standalone_entry_point() -> None:
    assert command(SIMULATOR)[:3] == ["python", "-m", "simulator"]
    assert option(command(SIMULATOR), "--host") == "0.0.0.0"
    assert (ROOT / "simulator" / "__main__.py").is_file()


def test_the_simulator_listens_where_its_origin_says() -> None:
    origin = urlsplit(simulator_origin())
    settings = load_settings(SIMULATOR["environment"])

    assert origin.scheme == "https"
    assert settings.authority_host == simulator_origin()
    assert settings.simulator_port == origin.port
    assert f"{origin.port}:{origin.port}" in SIMULATOR["ports"]
    assert f"https://localhost:{origin.port}/" in healthcheck_text(SIMULATOR)


def test_the_containers_reach_the_simulator_by_its_origins_name() -> None:
    hostname = urlsplit(simulator_origin()).hostname
    aliases = {
        alias
        for network in SIMULATOR["networks"].values()
        for alias in (network or {}).get("aliases", [])
    }

    # Browsers resolve *.localhost to the machine the port is published on.
    assert hostname and hostname.endswith(".localhost")
    assert hostname in aliases
    assert set(SIMULATOR["networks"]) & set(SERVICES["web"]["networks"])


# -- the demo: the override ----------------------------------------------------------


def test_the_demo_override_changes_only_services_that_exist() -> None:
    assert set(DEMO_OVERRIDE["services"]) <= set(SERVICES)
    assert set(DEMO_OVERRIDE.get("volumes") or {}) <= set(COMPOSE["volumes"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_in_the_demo_the_app_uses_the_simulator(name: str) -> None:
    environment = DEMO_SERVICES[name]["environment"]

    assert environment["ENTRA_AUTHORITY_HOST"] == simulator_origin()
    assert environment["GRAPH_URL"] == SIMULATOR["environment"]["GRAPH_URL"]
    assert environment["GRAPH_URL"] == f"{simulator_origin()}/v1.0"
    assert dependencies(DEMO_SERVICES[name])["simulator"] == {
        "condition": "service_healthy"
    }


@pytest.mark.parametrize("name", APP_SERVICES)
def test_in_the_demo_the_app_keeps_the_rest_of_its_environment(name: str) -> None:
    environment = DEMO_SERVICES[name]["environment"]
    unchanged = set(COMPOSE["x-app-env"]) - set(DEMO_OVERRIDE["x-demo-env"])

    assert {key: environment[key] for key in unchanged} == {
        key: COMPOSE["x-app-env"][key] for key in unchanged
    }
    assert environment == DEMO_SERVICES["web"]["environment"]


def image_workdir() -> str:
    (workdir,) = [
        args for keyword, args in dockerfile_instructions() if keyword == "WORKDIR"
    ]

    return workdir


@pytest.mark.parametrize("name", APP_SERVICES)
def test_in_the_demo_the_app_trusts_the_simulators_ca(
    name: str, tmp_path: Path
) -> None:
    bundle = Path(DEMO_SERVICES[name]["environment"]["MICROSOFT_CA_BUNDLE"])
    simulator_mounts = {mount_target(v): v.split(":")[0] for v in SIMULATOR["volumes"]}
    app_mounts = {
        mount_target(v): v.split(":")[0] for v in DEMO_SERVICES[name]["volumes"]
    }
    # The simulator makes its CA in the image's default instance folder.
    made_in = f"{image_workdir()}/instance/tls"

    assert "INSTANCE_PATH" not in SIMULATOR["environment"]
    assert app_mounts[str(bundle.parent)] == simulator_mounts[made_in]
    assert bundle.name == ensure_local_tls(tmp_path).ca_path.name


def test_in_the_demo_the_proxy_serves_the_simulators_certificate(
    tmp_path: Path,
) -> None:
    proxy = DEMO_SERVICES["proxy"]
    made = ensure_local_tls(tmp_path)
    mounts = {mount_target(v): v.split(":")[0] for v in proxy["volumes"]}

    assert mounts["/etc/nginx/tls"] == "demo-tls"
    assert "demo-tls" in {v.split(":")[0] for v in SIMULATOR["volumes"]}
    assert proxy["environment"]["TLS_CERTIFICATE_FILE"] == made.cert_path.name
    assert proxy["environment"]["TLS_KEY_FILE"] == made.key_path.name
    assert "/etc/nginx/templates" in mounts
