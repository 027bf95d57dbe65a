"""The docker compose stack, its image and its settings, checked as files: there is no
Docker engine where the suite runs, so these tests read what `docker compose up` would
act on (they do not build or start anything).

The parts generated from the settings classes (.env.example, the `settings:<service>`
blocks of docker-compose.yml) are rewritten with `CRM_UPDATE_DOCS=1`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
import uuid
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel, SecretStr

from crm_analytics.settings import AnalyticsSettings
from crm_customer.settings import CustomerSettings
from crm_gateway.settings import GatewaySettings
from crm_orders.settings import OrdersSettings
from crm_recommend.settings import RecommendSettings
from crm_shared.settings import ServiceSettings

ROOT = Path(__file__).parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
OPERATIONS = ROOT / "docs" / "operations.md"
DOCKERFILES = sorted((ROOT / "deploy").glob("**/*Dockerfile"))
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"
UPDATE = os.environ.get("CRM_UPDATE_DOCS") == "1"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "customer": CustomerSettings,
    "orders": OrdersSettings,
    "analytics": AnalyticsSettings,
    "recommend": RecommendSettings,
    "gateway": GatewaySettings,
}
PORTS = {"gateway": 8000, "customer": 8001, "orders": 8002, "analytics": 8003, "recommend": 8004}
SECRETS = (
    "POSTGRES_PASSWORD",
    *(f"{service.upper()}_DB_PASSWORD" for service in SETTINGS),
    "SERVICE_TOKEN",
)
# Settings the compose file decides for every service (see docker-compose.yml).
STACK_DECIDED = ("environment", "host", "port", "database_url", "service_token")
# Settings it decides for some: where the siblings are, where models live.
STACK_VALUES: dict[str, dict[str, str]] = {
    "recommend": {"model_dir": "/var/lib/crm/models"},
    "gateway": {"required_upstreams": "customer,orders,analytics,recommend"},
}


def _prefix(service: str) -> str:
    return str(SETTINGS[service].model_config.get("env_prefix", ""))


def _variables(service: str) -> list[str]:
    return [f"{_prefix(service)}{name.upper()}" for name in SETTINGS[service].model_fields]


def _stack_value(service: str, field: str) -> str | None:
    """The value the stack gives a setting, or None: passed through from .env if set."""
    sibling = field.removesuffix("_url")
    if field.endswith("_url") and sibling in PORTS and sibling != "gateway":
        return f"http://{sibling}:{PORTS[sibling]}"
    return STACK_VALUES.get(service, {}).get(field)


def compose_block(service: str) -> str:
    """The generated part of a service's environment in docker-compose.yml."""
    lines = []
    for field in SETTINGS[service].model_fields:
        if field in STACK_DECIDED:
            continue
        variable = f"{_prefix(service)}{field.upper()}"
        value = _stack_value(service, field)
        lines.append(f"      - {variable}" + ("" if value is None else f"={value}"))
    return "\n".join(lines) + "\n"


def _shown(default: Any) -> str:
    if isinstance(default, SecretStr) or default is None:
        return ""
    if isinstance(default, Enum):
        return str(default.value)
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, BaseModel):
        return default.model_dump_json()
    if isinstance(default, dict | list):
        return json.dumps(
            {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in default.items()}
            if isinstance(default, dict)
            else default
        )
    return str(default)


ENV_HEADER = """\
# Settings of the docker compose stack (docker-compose.yml, `make up`). Copy this file to
# .env, set every secret, and uncomment what you want to change. Everything below the
# secrets is generated from the services' settings classes (docs/operations.md describes
# each variable; `CRM_UPDATE_DOCS=1 make test` regenerates it).

# Secrets: all required. Use long random values of URL-safe characters (for instance
# `openssl rand -hex 32`): the database passwords become part of connection URLs.
POSTGRES_PASSWORD=change-me
CUSTOMER_DB_PASSWORD=change-me
ORDERS_DB_PASSWORD=change-me
ANALYTICS_DB_PASSWORD=change-me
RECOMMEND_DB_PASSWORD=change-me
GATEWAY_DB_PASSWORD=change-me
# The internal token every service checks (X-Service-Token).
SERVICE_TOKEN=change-me
# For the first start, an admin key of 32+ characters to create real keys with
# (`crm keys create --gateway http://127.0.0.1:8000 --admin-key ...`); unset it after.
# GATEWAY_BOOTSTRAP_ADMIN_KEY=

# Where the gateway, the one public entry, is published on the host.
CRM_PUBLISH=127.0.0.1:8000
"""


def env_example() -> str:
    parts = [ENV_HEADER]
    for service, settings_class in SETTINGS.items():
        prefix = _prefix(service)
        decided = [f"{prefix}{name.upper()}" for name in STACK_DECIDED] + [
            f"{prefix}{name.upper()}"
            for name in settings_class.model_fields
            if name not in STACK_DECIDED and _stack_value(service, name) is not None
        ]
        parts.append(f"\n# --- {service} ({prefix}*) ---\n")
        parts.append(
            textwrap.fill(
                "Set by docker-compose.yml: " + ", ".join(decided) + ".",
                width=88,
                initial_indent="# ",
                subsequent_indent="#   ",
                break_on_hyphens=False,
            )
            + "\n"
        )
        for name, field in settings_class.model_fields.items():
            if name in STACK_DECIDED or _stack_value(service, name) is not None:
                continue
            description = " ".join((field.description or "").split())
            default = _shown(field.get_default(call_default_factory=True))
            parts.append(f"# {description}\n# {prefix}{name.upper()}={default}\n")
    return "".join(parts)


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment as compose reads it (list or mapping form)."""
    raw = service.get("environment", {})
    if isinstance(raw, dict):
        return {name: None if value is None else str(value) for name, value in raw.items()}
    found: dict[str, str | None] = {}
    for entry in raw:
        name, _, value = str(entry).partition("=")
        found[name] = value if "=" in str(entry) else None
    return found


def test_generated_parts_are_current() -> None:
    compose = COMPOSE.read_text()
    for service in SETTINGS:
        pattern = re.compile(
            rf"(      # settings:{service}\n)(.*?)(      # /settings:{service}\n)", re.DOTALL
        )
        assert pattern.search(compose), f"docker-compose.yml has no settings block for {service}"
        if UPDATE:
            compose = pattern.sub(lambda m, s=service: m[1] + compose_block(s) + m[3], compose)
        else:
            match = pattern.search(compose)
            assert match is not None
            assert match[2] == compose_block(service), (
                f"the {service} settings of docker-compose.yml drifted: "
                "run `CRM_UPDATE_DOCS=1 make test`"
            )
    if UPDATE:
        COMPOSE.write_text(compose)
        ENV_EXAMPLE.write_text(env_example())
    assert ENV_EXAMPLE.read_text() == env_example(), "run `CRM_UPDATE_DOCS=1 make test`"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_setting_reaches_its_service_and_is_documented(service: str) -> None:
    environment = _environment(_compose()["services"][service])
    example = ENV_EXAMPLE.read_text()
    operations = OPERATIONS.read_text()
    for variable in _variables(service):
        assert variable in environment, f"{variable} does not reach the {service} container"
        assert re.search(rf"\b{variable}\b", example), f"{variable} not in .env.example"
        assert f"`{variable}`" in operations, f"{variable} not in docs/operations.md"
    strangers = [
        name
        for name in environment
        if not name.startswith(_prefix(service)) and name != "SERVICE_TOKEN"
    ]
    assert strangers == [], f"{service} gets variables of others"


def test_only_the_gateway_is_published() -> None:
    services = _compose()["services"]
    published = sorted(name for name, service in services.items() if service.get("ports"))
    assert published == ["gateway"]
    assert all("expose" not in service or name != "postgres" for name, service in services.items())


def test_every_service_has_a_healthcheck_and_waits_for_what_it_needs() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", *SETTINGS}
    for name, service in services.items():
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name
        if name in SETTINGS:
            assert f"127.0.0.1:{PORTS[name]}/health" in " ".join(check["test"]), name
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
    gateway_waits = services["gateway"]["depends_on"]
    for name in ("customer", "orders", "analytics", "recommend"):
        assert gateway_waits[name]["condition"] == "service_healthy"


def test_no_service_gets_another_services_database_credentials() -> None:
    services = _compose()["services"]
    for name in SETTINGS:
        environment = _environment(services[name])
        text = json.dumps(environment)
        url = environment[f"{name.upper()}_DATABASE_URL"]
        assert url is not None
        assert url.startswith(f"postgresql://crm_{name}:${{{name.upper()}_DB_PASSWORD")
        assert url.endswith(f"@postgres:5432/crm_{name}")
        for other in [*SETTINGS, "postgres"]:
            if other != name:
                assert f"{other.upper()}_DB_PASSWORD" not in text, f"{name} sees {other}'s"
                assert f"/crm_{other}" not in text, f"{name} names {other}'s database"
        assert "POSTGRES_PASSWORD" not in text
    # The database server is the one that knows every password: it creates the roles.
    postgres = _environment(services["postgres"])
    for name in SETTINGS:
        assert f"{name.upper()}_DB_PASSWORD" in postgres


def test_the_init_script_makes_a_database_and_role_per_service() -> None:
    script = INIT_DATABASES.read_text()
    listed = re.search(r"for service in ([a-z ]+); do", script)
    assert listed is not None
    assert sorted(listed[1].split()) == sorted(SETTINGS)
    assert 'CREATE DATABASE :"role" OWNER :"role"' in script
    assert 'REVOKE ALL ON DATABASE :"role" FROM PUBLIC' in script
    assert os.access(INIT_DATABASES, os.X_OK)


def test_named_volumes_keep_the_data() -> None:
    compose = _compose()
    assert set(compose["volumes"]) == {"postgres-data", "recommend-models"}
    assert "postgres-data:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    model_dir = STACK_VALUES["recommend"]["model_dir"]
    assert f"recommend-models:{model_dir}" in compose["services"]["recommend"]["volumes"]


def test_every_service_image_is_built_for_its_own_package() -> None:
    services = _compose()["services"]
    for name in SETTINGS:
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).exists()
        assert build["args"] == {
            "PACKAGE": f"crm-{name}",
            "MODULE": f"crm_{name}",
            "PORT": str(PORTS[name]),
        }


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfiles_are_slim_multi_stage_non_root_and_checked(dockerfile: Path) -> None:
    lines = [
        line.strip()
        for line in dockerfile.read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2, "multi-stage: build tools stay out of the image"
    assert all("-slim" in stage for stage in stages)
    final = lines[lines.index(stages[-1]) :]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users, "the final stage names a user"
    assert users[-1] not in ("root", "0"), "it runs as that user, not root"
    assert any(line.startswith("HEALTHCHECK ") for line in final)
    syncs = [line for line in lines if "uv sync" in line]
    assert syncs
    for sync in syncs:
        for flag in ("--frozen", "--no-dev", '--package "${PACKAGE}"'):
            assert flag in sync, f"{flag} missing in: {sync}"
    assert not any(line.startswith("COPY . ") for line in lines), "only what the build needs"


def test_the_docker_context_leaves_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".tools", "var", ".git", ".env"):
        assert entry in ignored


def _psql(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    parts = urlsplit(url)
    return subprocess.run(  # noqa: S603 - our own command line
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args],  # noqa: S607
        env={
            **os.environ,
            "PGHOST": parts.hostname or "127.0.0.1",
            "PGPORT": str(parts.port or 5432),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(shutil.which("psql") is None, reason="needs the psql client")
def test_the_init_script_isolates_the_services_on_a_real_server(postgres_admin_url: str) -> None:
    """The script as the postgres image runs it, against the test server, with a prefix of
    its own; each role can build its own database (as migrations do) and not enter
    another's."""
    admin = urlsplit(postgres_admin_url).username or "postgres"
    prefix = f"crm_t{uuid.uuid4().hex[:8]}_"
    passwords = {f"{service.upper()}_DB_PASSWORD": f"pw-{service}-x'y" for service in SETTINGS}
    try:
        ran = subprocess.run(  # noqa: S603
            ["sh", str(INIT_DATABASES)],  # noqa: S607
            env={
                **os.environ,
                **passwords,
                "POSTGRES_USER": admin,
                "CRM_DB_PREFIX": prefix,
                "PGHOST": urlsplit(postgres_admin_url).hostname or "127.0.0.1",
                "PGPORT": str(urlsplit(postgres_admin_url).port or 5432),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        for service in SETTINGS:
            role = f"{prefix}{service}"
            password = passwords[f"{service.upper()}_DB_PASSWORD"]
            own = _psql(
                postgres_admin_url,
                "-U", role, "-d", role, "-c", "CREATE TABLE probe (id int); DROP TABLE probe;",
                PGPASSWORD=password,
            )  # fmt: skip
            assert own.returncode == 0, own.stderr
            for other in SETTINGS:
                if other != service:
                    foreign = _psql(
                        postgres_admin_url, "-U", role, "-d", f"{prefix}{other}", "-c", "SELECT 1",
                        PGPASSWORD=password,
                    )  # fmt: skip
                    assert foreign.returncode != 0
                    assert "permission denied" in foreign.stderr
    finally:
        for service in SETTINGS:
            _psql(
                postgres_admin_url, "-U", admin, "-d", "postgres",
                "-c", f'DROP DATABASE IF EXISTS "{prefix}{service}"',
            )  # fmt: skip
            _psql(
                postgres_admin_url, "-U", admin, "-d", "postgres",
                "-c", f'DROP ROLE IF EXISTS "{prefix}{service}"',
            )  # fmt: skip
