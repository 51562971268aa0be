"""`airflow-anaplan oauth-register` end to end against the emulator's device grant."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_anaplan.cli import main
from airflow_provider_anaplan.client import AnaplanClient, ClientConfig, OAuthCredentials

WORKSPACE = "8a868cd985f53e7701860542f59e276e"
MODEL = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"


class _Tee(io.StringIO):
    """A StringIO whose content other threads can wait on."""

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.getvalue())
            if match:
                return match
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never appeared in: {self.getvalue()!r}")


def _args(emulator, *extra: str) -> list[str]:
    return [
        "oauth-register",
        "--client-id", "emulator-device-client",
        "--oauth-url", emulator.oauth_url,
        "--auth-url", emulator.auth_url,
        "--api-url", emulator.api_url,
        "--workspace-id", WORKSPACE,
        "--model-id", MODEL,
        *extra,
    ]


def test_register_prints_a_working_connection(anaplan_emulator):
    anaplan_emulator.admin.configure(device_poll_interval=1)
    out, err = _Tee(), _Tee()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(main(_args(anaplan_emulator), out, err)))
    worker.start()
    user_code = err.wait_for(r"USER_CODE=(\S+)").group(1)
    assert "enter the code" in err.getvalue()
    time.sleep(1.5)  # let the command poll at least once while the code is still pending
    anaplan_emulator.admin.approve_device_code(user_code)
    worker.join(30)
    assert result == [0], err.getvalue()

    line = next(line for line in out.getvalue().splitlines() if line.startswith("AIRFLOW_CONN_"))
    conn = json.loads(line.split("=", 1)[1].strip("'"))
    extra = conn["extra"]
    assert conn["conn_type"] == "anaplan"
    assert extra["auth_type"] == "oauth" and extra["client_id"] == "emulator-device-client"
    assert extra["workspace_id"] == WORKSPACE and extra["model_id"] == MODEL
    assert "URI: anaplan://?" in out.getvalue()
    assert anaplan_emulator.admin.counters()["authentications"]["device"] == 1

    # The printed refresh token really works: the client can use it to call the bulk API.
    config = ClientConfig(
        credentials=OAuthCredentials(client_id=extra["client_id"], refresh_token=extra["refresh_token"]),
        workspace_id=WORKSPACE, model_id=MODEL, api_url=extra["api_url"],
        auth_url=extra["auth_url"], oauth_url=extra["oauth_url"], verify=False,
    )
    with AnaplanClient(config) as client:
        assert any(i["id"] == "112000000000" for i in client.list_imports())
    # The token is printed on stdout for the user, never into the progress messages on stderr.
    assert extra["refresh_token"] not in err.getvalue()


def test_denied_device_fails_clearly(anaplan_emulator):
    anaplan_emulator.admin.configure(device_poll_interval=1)
    out, err = _Tee(), _Tee()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(main(_args(anaplan_emulator), out, err)))
    worker.start()
    user_code = err.wait_for(r"USER_CODE=(\S+)").group(1)
    anaplan_emulator.admin.approve_device_code(user_code, deny=True)
    worker.join(30)
    assert result == [1]
    assert "Registration failed" in err.getvalue()
    assert out.getvalue() == ""


def test_unknown_client_fails_clearly(anaplan_emulator):
    err = _Tee()
    args = _args(anaplan_emulator)
    args[2] = "no-such-client"
    assert main(args, io.StringIO(), err) == 1
    assert "no-such-client" in err.getvalue()


def test_register_stores_into_metadata_database(anaplan_emulator, tmp_path: Path):
    """`--store` merges the refresh token into an existing connection of a real Airflow database."""
    anaplan_emulator.admin.configure(device_poll_interval=1)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    env.pop("AIRFLOW_CONN_ANAPLAN_DEFAULT", None)
    bindir = Path(sys.executable).parent
    subprocess.run([str(bindir / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [str(bindir / "airflow"), "connections", "add", "anaplan_oauth", "--conn-type", "anaplan",
         "--conn-extra", json.dumps({"timeout": 30})],
        env=env, check=True, capture_output=True,
    )
    proc = subprocess.Popen(
        [str(bindir / "airflow-anaplan"), *_args(anaplan_emulator, "--store", "--conn-id", "anaplan_oauth")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    user_code = None
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("USER_CODE="):
            user_code = line.strip().split("=", 1)[1]
            break
    assert user_code
    anaplan_emulator.admin.approve_device_code(user_code)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Stored the refresh token" in stderr
    assert "refresh_token" not in stdout  # nothing printed when storing
    reader = (
        "import json; from airflow.models.connection import Connection;"
        "from airflow.utils.session import create_session\n"
        "with create_session() as s:\n"
        "    c = s.query(Connection).filter(Connection.conn_id == 'anaplan_oauth').one()\n"
        "    print(json.dumps(c.extra_dejson))"
    )
    shown = subprocess.run([sys.executable, "-c", reader], env=env, check=True, capture_output=True, text=True)
    extra = json.loads(shown.stdout.strip().splitlines()[-1])
    assert extra["auth_type"] == "oauth" and extra["refresh_token"] and extra["timeout"] == 30


@pytest.mark.parametrize("argv", [[], ["oauth-register"]])
def test_bad_arguments_exit_with_usage(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv, io.StringIO(), io.StringIO())
    assert exc.value.code == 2
