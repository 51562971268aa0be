"""The user-facing ``docker-compose.yml``: structure, commands, healthchecks, dependencies, connection.

Docker is not available where the suite runs, so the file is parsed and checked field by field; when
the ``docker-compose`` binary (Debian package ``docker-compose``) is installed, ``docker-compose
config -q`` must accept it too (that part is skipped otherwise).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_provider_anaplan.testing.emulator import DEMO_PASSWORD, DEMO_USER, MODEL_ID, WORKSPACE_ID

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
EMULATOR_URL = "http://anaplan-emulator:8765"

AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
SERVICES = {"postgres", "redis", "anaplan-emulator", "airflow-init", *AIRFLOW_COMMANDS}


def resolve(value: str) -> str:
    """Apply compose's ``${VAR:-default}`` interpolation with every variable unset."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def as_text(command: Any) -> str:
    """A compose command/entrypoint (string or list) as one string."""
    if command is None:
        return ""
    return command if isinstance(command, str) else " ".join(str(c) for c in command)


def health_test(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return as_text(test)


def test_services(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES


def test_airflow_services_use_the_provider_image(services: dict[str, Any]) -> None:
    """Every Airflow service and the emulator build docker/Dockerfile from the checkout."""
    for name in [*AIRFLOW_COMMANDS, "airflow-init", "anaplan-emulator"]:
        build = services[name]["build"]
        assert build["context"] == ".", name
        assert build["dockerfile"] == "docker/Dockerfile", name
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG AIRFLOW_IMAGE=(\S+)", text, re.M)
    assert base and base.group(1) == "apache/airflow:3.3.2", text
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}", text, re.M), text
    assert re.search(r"^COPY .*\. /opt/airflow-provider-anaplan$", text, re.M), text
    assert (
        'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/airflow-provider-anaplan'
        in text
    )
    ignore = (REPO / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignore and ".git" in ignore


def test_commands(services: dict[str, Any]) -> None:
    for name, command in AIRFLOW_COMMANDS.items():
        assert as_text(services[name]["command"]) == command, name
        assert "entrypoint" not in services[name], name  # the image's entrypoint runs `airflow <command>`
    emulator = services["anaplan-emulator"]
    assert f"{as_text(emulator['entrypoint'])} {as_text(emulator['command'])}" == (
        "anaplan-emulator --host 0.0.0.0 --port 8765"
    )
    init = services["airflow-init"]
    script = as_text(init["command"])
    assert init["entrypoint"] == "/bin/bash"
    assert "set -euo pipefail" in script and "airflow db migrate" in script
    assert "/opt/airflow/auth/passwords.json" in script  # the admin user's password
    assert init["user"] == "0:0"  # it chowns the shared volumes


def test_healthchecks(services: dict[str, Any]) -> None:
    """Every long-running service has a healthcheck (airflow-init is a one-shot job)."""
    for name, service in services.items():
        if name == "airflow-init":
            assert "healthcheck" not in service
            continue
        assert health_test(service), name
        check = service["healthcheck"]
        assert {"interval", "timeout", "retries"} <= set(check), name
    assert "pg_isready" in health_test(services["postgres"])
    assert "redis-cli ping" in health_test(services["redis"])
    assert "http://localhost:8765/_emulator/health" in health_test(services["anaplan-emulator"])
    assert "http://localhost:8080/api/v2/monitor/health" in health_test(services["airflow-apiserver"])
    assert "http://localhost:8974/health" in health_test(services["airflow-scheduler"])
    assert "--job-type DagProcessorJob" in health_test(services["airflow-dag-processor"])
    assert "--job-type TriggererJob" in health_test(services["airflow-triggerer"])
    assert "inspect ping" in health_test(services["airflow-worker"])
    # `$$` is compose's escape for a literal `$` the shell expands inside the container.
    assert '"$${HOSTNAME}"' in health_test(services["airflow-triggerer"])


def test_depends_on(services: dict[str, Any]) -> None:
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    for name in AIRFLOW_COMMANDS:
        deps = conditions(name)
        assert deps["postgres"] == "service_healthy", name
        assert deps["redis"] == "service_healthy", name
        assert deps["airflow-init"] == "service_completed_successfully", name
    assert conditions("airflow-init") == {"postgres": "service_healthy", "redis": "service_healthy"}
    for name in ("airflow-triggerer", "airflow-worker"):  # the ones that talk to Anaplan
        assert conditions(name)["anaplan-emulator"] == "service_healthy", name
    assert conditions("airflow-worker")["airflow-apiserver"] == "service_healthy"  # execution API
    assert "depends_on" not in services["anaplan-emulator"]


def test_executor_and_shared_settings(services: dict[str, Any]) -> None:
    """CeleryExecutor on PostgreSQL + Redis; one set of secrets for every Airflow component."""
    envs = {name: services[name]["environment"] for name in [*AIRFLOW_COMMANDS, "airflow-init"]}
    for name, env in envs.items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert (
            env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
            and "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"]
        ), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert len({env[key] for env in envs.values()}) == 1, key
    from cryptography.fernet import Fernet

    Fernet(resolve(envs["airflow-scheduler"]["AIRFLOW__CORE__FERNET_KEY"]))  # a valid default key
    assert services["airflow-worker"]["environment"]["DUMB_INIT_SETSID"] == "0"


def test_example_dags_are_the_dags_folder(services: dict[str, Any]) -> None:
    for name in [*AIRFLOW_COMMANDS, "airflow-init"]:
        assert "./example_dags:/opt/airflow/dags:ro" in services[name]["volumes"], name
        assert "airflow-logs:/opt/airflow/logs" in services[name]["volumes"], name
    assert (REPO / "example_dags").is_dir()


def test_anaplan_connection(services: dict[str, Any]) -> None:
    """``anaplan_default`` is ready: the emulator's URLs, the seed's user, workspace and model."""
    raw = services["airflow-worker"]["environment"]["AIRFLOW_CONN_ANAPLAN_DEFAULT"]
    conn = json.loads(raw)
    assert conn["conn_type"] == "anaplan"
    assert (conn["login"], conn["password"]) == (DEMO_USER, DEMO_PASSWORD)
    assert conn["extra"] == {
        "api_url": f"{EMULATOR_URL}/2/0",
        "auth_url": EMULATOR_URL,
        "oauth_url": EMULATOR_URL,
        "workspace_id": WORKSPACE_ID,
        "model_id": MODEL_ID,
    }
    for name in AIRFLOW_COMMANDS:
        assert services[name]["environment"]["AIRFLOW_CONN_ANAPLAN_DEFAULT"] == raw, name
    # Airflow parses it as a connection, and the provider accepts it.
    from airflow.models.connection import Connection

    parsed = Connection(conn_id="anaplan_default", **conn)
    assert parsed.conn_type == "anaplan" and parsed.login == DEMO_USER
    hooks = pytest.importorskip("airflow_provider_anaplan.hooks.connection")
    cfg = hooks.build_client_config(login=parsed.login, password=parsed.password, extra=parsed.extra_dejson)
    assert cfg.api_url == f"{EMULATOR_URL}/2/0"
    assert cfg.workspace_id == WORKSPACE_ID and cfg.model_id == MODEL_ID


def test_docker_compose_config_validates() -> None:
    """``docker-compose config -q`` accepts the file (needs the docker-compose binary, no engine)."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip(
            "docker-compose is not installed (Debian package `docker-compose`); structure checked above"
        )
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
