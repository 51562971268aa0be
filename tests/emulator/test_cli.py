"""The ``anaplan-emulator`` command line, run as a real subprocess: ``--help``, the start-up banner
(every URL it prints answers over HTTP), ``--no-banner``, a fixture's users and a port in use."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_provider_anaplan.testing.emulator import DEMO_PASSWORD, DEMO_USER, MODEL_ID, WORKSPACE_ID
from airflow_provider_anaplan.testing.pytest_plugin import free_port

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "airflow_provider_anaplan.testing.emulator"]
BANNER_END = "or in the UI: connection type Anaplan"


class RunningCli:
    """The CLI as a child process; ``lines`` collects its stdout as it arrives."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            [*CLI, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 20.0) -> list[str]:
        """Every line up to the first one containing ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(self.lines):
                if text in line:
                    return self.lines[: index + 1]
            assert self.process.poll() is None, f"the CLI exited with {self.process.returncode}: {self.lines}"
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not printed within {timeout} s: {self.lines}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def cli() -> Iterator[type[RunningCli]]:
    started: list[RunningCli] = []

    class Tracked(RunningCli):
        def __init__(self, args: list[str]) -> None:
            super().__init__(args)
            started.append(self)

    yield Tracked
    for running in started:
        running.stop()


def _row(lines: list[str], label: str) -> str:
    """The banner line labelled ``label`` (the label, then at least two spaces or ``=``)."""
    pattern = re.compile(rf"^\s*{re.escape(label)}(\s{{2,}}|=)")
    return next(line for line in lines if pattern.match(line))


def test_help_shows_defaults_and_the_seed() -> None:
    result = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60, check=True)
    text = result.stdout
    assert re.search(r"--host HOST\s.*\(default: 127\.0\.0\.1\)", text, re.S)
    assert "(default: 8765)" in text
    assert "(default: info)" in text
    assert "--no-banner" in text
    assert "(default: None)" not in text
    # the epilog: the default seed and examples
    assert f"{DEMO_USER} / {DEMO_PASSWORD}" in text
    assert WORKSPACE_ID in text and MODEL_ID in text
    assert "make emulator PORT=8800" in text


def test_banner_lists_seed_urls_and_a_connection_that_all_work(cli: type[RunningCli]) -> None:
    running = cli(["--port", "0", "--log-level", "warning"])
    lines = running.wait_for(BANNER_END)
    first = re.match(r"Anaplan emulator listening on (http://127\.0\.0\.1:(\d+))", lines[0])
    assert first, lines[0]
    url, port = first.group(1), int(first.group(2))
    assert port != 0

    user = _row(lines, "user")
    assert DEMO_USER in user and f"password: {DEMO_PASSWORD}" in user
    assert WORKSPACE_ID in _row(lines, "workspace") and "Demo Workspace" in _row(lines, "workspace")
    assert MODEL_ID in _row(lines, "model") and "Demo Model" in _row(lines, "model")
    assert any("emulator-rotating-client" in line and "(rotatable" in line for line in lines)
    assert any("emulator-device-client" in line and "non-rotatable" in line for line in lines)

    found = {
        label: re.search(r"(https?://\S+)", _row(lines, label)).group(1)  # type: ignore[union-attr]
        for label in (
            "home page",
            "auth API",
            "OAuth",
            "device activation",
            "bulk API v2",
            "admin API",
            "model link",
        )
    }
    assert found["auth API"] == f"{url}/token/authenticate"
    assert found["OAuth"] == f"{url}/oauth/token"
    assert found["bulk API v2"] == f"{url}/2/0"
    assert found["model link"] == (
        f"{url}/anaplan/framework.jsp?selectedWorkspaceId={WORKSPACE_ID}&selectedModelId={MODEL_ID}"
    )

    with httpx.Client(timeout=10.0) as http:
        # the banner is printed once the socket listens: its URLs answer at once
        assert http.get(found["admin API"]).json() == {"status": "ok"}
        for label in ("home page", "device activation", "model link"):
            page = http.get(found[label])
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), label
        assert "Demo Model" in http.get(found["model link"]).text
        token = http.post(found["auth API"], auth=(DEMO_USER, DEMO_PASSWORD))
        assert token.status_code == 201, token.text

        export = _row(lines, "export AIRFLOW_CONN_ANAPLAN_DEFAULT")
        conn = json.loads(export.split("=", 1)[1].strip().strip("'"))
        assert conn["conn_type"] == "anaplan"
        assert (conn["login"], conn["password"]) == (DEMO_USER, DEMO_PASSWORD)
        extra = conn["extra"]
        assert extra == {
            "api_url": f"{url}/2/0",
            "auth_url": url,
            "oauth_url": url,
            "workspace_id": WORKSPACE_ID,
            "model_id": MODEL_ID,
        }
        auth = http.post(f"{extra['auth_url']}/token/authenticate", auth=(conn["login"], conn["password"]))
        value = auth.json()["tokenInfo"]["tokenValue"]
        model = http.get(
            f"{extra['api_url']}/models/{extra['model_id']}",
            headers={"Authorization": f"AnaplanAuthToken {value}"},
        )
        assert model.status_code == 200 and model.json()["model"]["name"] == "Demo Model"


def test_banner_with_a_fixture_hints_at_passwords_without_printing_them(
    cli: type[RunningCli], tmp_path: Path
) -> None:
    secret = "fixture-secret-0123456789"
    fixture = {
        "users": [{"email": "ops@example.com", "password": secret, "id": "0123456789abcdef0123456789abcdef"}],
        "workspaces": [{"id": "a" * 32, "name": "WS"}],
        "models": [{"id": "B" * 32, "name": "Tiny", "workspaceId": "a" * 32}],
    }
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(fixture), encoding="utf-8")
    running = cli(["--port", "0", "--fixture", str(path), "--log-level", "warning"])
    lines = running.wait_for(BANNER_END)
    text = "\n".join(lines)
    assert secret not in text
    assert "ops@example.com" in _row(lines, "user") and f"{len(secret)} characters" in _row(lines, "user")
    assert "B" * 32 in _row(lines, "model") and "Tiny" in _row(lines, "model")
    assert "selectedModelId=" + "B" * 32 in _row(lines, "model link")
    conn = json.loads(_row(lines, "export AIRFLOW_CONN_ANAPLAN_DEFAULT").split("=", 1)[1].strip().strip("'"))
    assert conn["login"] == "ops@example.com" and conn["password"] == "<password>"
    assert conn["extra"]["model_id"] == "B" * 32 and conn["extra"]["workspace_id"] == "a" * 32


def test_no_banner(cli: type[RunningCli]) -> None:
    port = free_port()
    running = cli(["--port", str(port), "--no-banner", "--log-level", "warning"])
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and running.process.poll() is None
        time.sleep(0.05)
    time.sleep(0.2)
    assert running.lines == []


def test_a_port_in_use_fails_with_a_clear_message(cli: type[RunningCli]) -> None:
    running = cli(["--port", "0", "--log-level", "warning"])
    port = int(re.findall(r":(\d+)", running.wait_for(BANNER_END)[0])[0])
    result = subprocess.run(
        [*CLI, "--port", str(port), "--log-level", "warning"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port N" in result.stderr and "make emulator PORT=N" in result.stderr
    assert "Anaplan emulator listening" not in result.stdout


def _make_dry_run(*args: str) -> str:
    """The commands ``make -n`` would run (nothing is run), with no PORT from the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "EMULATOR_HOST", "MAKEFLAGS")}
    result = subprocess.run(
        ["make", "-n", "-s", *args], cwd=REPO, capture_output=True, text=True, timeout=60, env=env, check=True
    )
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    ("target", "args", "expected"),
    [
        ("emulator", [], "anaplan-emulator --host 127.0.0.1 --port 8765"),
        ("emulator", ["PORT=8800"], "anaplan-emulator --host 127.0.0.1 --port 8800"),
        ("demo", ["PORT=8800"], "scripts/demo_airflow.py --port 8800"),
        ("demo-http", ["PORT=8800"], "scripts/demo.py --port 8800"),
    ],
)
def test_make_targets_pass_the_port(target: str, args: list[str], expected: str) -> None:
    assert expected in _make_dry_run(target, *args)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_without_a_port_lets_the_script_pick_one() -> None:
    commands = _make_dry_run("demo")
    assert "scripts/demo_airflow.py" in commands and "--port" not in commands
