"""Drive the Anaplan emulator from tests and scripts: :class:`EmulatorAdmin`, :class:`EmulatorHandle`,
:func:`run_emulator_subprocess` and :func:`free_port`.

No pytest here (the runtime install has no pytest): the fixtures live in
:mod:`airflow_provider_anaplan.testing.pytest_plugin`, which re-exports these names.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .emulator import DEMO_PASSWORD, DEMO_USER, MODEL_ID, WORKSPACE_ID
from .emulator.server import EmulatorServer

__all__ = ["EmulatorAdmin", "EmulatorHandle", "free_port", "run_emulator_subprocess"]


class EmulatorAdmin:
    """Client for the admin API (``/_emulator/*``); every method raises on an HTTP error."""

    def __init__(self, url: str, verify: bool = False) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.url}/_emulator", timeout=30.0, verify=verify)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise RuntimeError(
                f"emulator admin {method} {path}: HTTP {response.status_code}: {response.text}"
            )
        ctype = response.headers.get("content-type", "")
        return response.json() if "json" in ctype else response.content

    def health(self) -> bool:
        return self._call("GET", "/health").get("status") == "ok"

    def reset(self) -> None:
        """Back to the base fixture: data, tokens, certificates, OAuth state, config, counters, faults."""
        self._call("POST", "/reset")

    def load_fixture(self, fixture: dict[str, Any], default: bool = False) -> None:
        """Replace the state with ``fixture``; ``default=True`` also makes it the reset target."""
        self._call("POST", "/fixture", fixture, params={"default": "true"} if default else None)

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Latency/bandwidth/rate faults, e.g. ``set_faults(latency_ms=50, error_rates={429: 0.2})``."""
        return self._call("POST", "/faults", faults)

    def add_fault(self, rule: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """A scripted rule: ``add_fault(method="POST", path_regex="/tasks$", status=500, when="after", count=1)``.

        Also ``skip=N``, ``hold_ms=1500`` and ``sequence=["pass", 503, "drop-after", {"hold_ms": 1500}]``
        (see the *Faults* section of ``docs/emulator.md``); a bad rule raises (HTTP 400).
        """
        return self._call("POST", "/faults/rules", {**(rule or {}), **kwargs})

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def counters(self) -> dict[str, Any]:
        """``{"requests", "statuses", "tasks_created", "tasks_created_detail", "authentications",
        "auth_failures", "oauth_refresh_grants", "refresh_token_reuse", "faults", "lost_replies", ...}``."""
        return self._call("GET", "/counters")

    def reset_counters(self) -> None:
        self._call("DELETE", "/counters")

    def list_items(self, list_id: str, model_id: str | None = None) -> list[dict[str, Any]]:
        """Members of a list: ``[{"name", "code", <property>: value}]``."""
        return self._call("GET", f"/lists/{list_id}", params={"model": model_id} if model_id else None)[
            "items"
        ]

    def module_cells(self, module_id: str, model_id: str | None = None) -> list[dict[str, Any]]:
        """Cells of a module: ``[{<dimension>: item, ..., "value": v}]``."""
        return self._call("GET", f"/modules/{module_id}", params={"model": model_id} if model_id else None)[
            "cells"
        ]

    def file_content(self, file_id: str, model_id: str | None = None) -> bytes:
        return self._call("GET", f"/files/{file_id}", params={"model": model_id} if model_id else None)

    def tasks(self, model_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        return self._call("GET", "/tasks", params={"model": model_id} if model_id else None)

    def register_certificate(self, user: str, pem: str | bytes) -> dict[str, Any]:
        """Register a PEM certificate for ``user`` (certificate authentication)."""
        text = pem.decode() if isinstance(pem, bytes) else pem
        return self._call("POST", "/certificates", {"user": user, "pem": text})

    def register_oauth_client(
        self, client_id: str, rotatable: bool = False, client_secret: str | None = None
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "/oauth/clients",
            {"client_id": client_id, "rotatable": rotatable, "client_secret": client_secret},
        )

    def approve_device_code(
        self, user_code: str, user: str | None = None, deny: bool = False
    ) -> dict[str, Any]:
        """Approve (or deny) a pending device authorization as ``user`` (default: the first user)."""
        return self._call(
            "POST", "/oauth/device/approve", {"user_code": user_code, "user": user, "deny": deny}
        )

    def issue_oauth_tokens(self, client_id: str, user: str | None = None) -> dict[str, Any]:
        """A token pair as if the device flow had completed (shortcut for tests)."""
        return self._call("POST", "/oauth/tokens", {"client_id": client_id, "user": user})

    def refresh_tokens(self, client_id: str | None = None) -> list[dict[str, Any]]:
        """Every OAuth refresh token issued, oldest first:
        ``[{"refresh_token", "client_id", "user", "rotatable", "alive", "spent", "issued_at", "expires_at"}]``."""
        return self._call(
            "GET", "/oauth/refresh_tokens", params={"client_id": client_id} if client_id else None
        )["refresh_tokens"]

    def expire_tokens(self, kind: str = "access") -> int:
        """Expire every access token (``kind="refresh"``/``"all"`` for OAuth refresh tokens)."""
        return self._call("POST", "/tokens/expire", {"kind": kind})["count"]

    def configure(self, **config: Any) -> dict[str, Any]:
        """Change tunables, e.g. ``configure(rows_per_second=1000, token_ttl_seconds=5)``."""
        return self._call("POST", "/config", config)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")


@dataclass
class EmulatorHandle:
    """Where the emulator listens and how to drive it.

    ``url`` is the emulator's base URL (authentication and OAuth are served there, the bulk API under
    :attr:`api_url`); ``admin`` drives its state, faults and counters; ``workspace_id``, ``model_id``,
    ``user`` and ``password`` are the default seed's. :meth:`airflow_connection` turns it into an
    Airflow connection.
    """

    url: str
    admin: EmulatorAdmin
    server: EmulatorServer | None = None
    process: subprocess.Popen[bytes] | None = None
    workspace_id: str = WORKSPACE_ID
    model_id: str = MODEL_ID
    user: str = DEMO_USER
    password: str = DEMO_PASSWORD
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"{self.url}/2/0"

    @property
    def auth_url(self) -> str:
        return self.url

    @property
    def oauth_url(self) -> str:
        return self.url

    @property
    def model_url(self) -> str:
        """``{api_url}/workspaces/{workspace}/models/{model}`` of the default seed."""
        return f"{self.api_url}/workspaces/{self.workspace_id}/models/{self.model_id}"

    def airflow_connection(self, **extra: Any) -> str:
        """The JSON form of an ``anaplan`` Airflow connection to this emulator, as the seed user.

        It carries ``login``/``password`` (:attr:`user`/:attr:`password`) and the extras ``api_url``,
        ``auth_url``, ``oauth_url``, ``cloudworks_url`` (all on this emulator), ``workspace_id`` and ``model_id`` (the
        seed's); keyword arguments add or override extras. Set it as an environment connection::

            monkeypatch.setenv("AIRFLOW_CONN_ANAPLAN_DEFAULT", anaplan_emulator.airflow_connection())
            monkeypatch.setenv("AIRFLOW_CONN_ANAPLAN_SLOW", anaplan_emulator.airflow_connection(timeout=5))

        (the ``anaplan_connection`` fixture does the first line for you), or
        ``Connection.from_json(...)`` / ``airflow connections add --conn-json`` it.
        """
        extras: dict[str, Any] = {
            "api_url": self.api_url,
            "auth_url": self.auth_url,
            "oauth_url": self.oauth_url,
            "cloudworks_url": f"{self.url}/cloudworks/2/0",
            "workspace_id": self.workspace_id,
            "model_id": self.model_id,
            **extra,
        }
        return json.dumps({"conn_type": "anaplan", "login": self.user, "password": self.password, "extra": extras})


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with code {process.returncode} during start-up")
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=1.0, verify=False).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"the emulator at {url} did not answer within {timeout} s ({last})")


@contextlib.contextmanager
def run_emulator_subprocess(
    port: int | None = None,
    fixture: dict[str, Any] | str | Path | None = None,
    extra_args: Sequence[str] = (),
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> Iterator[EmulatorHandle]:
    """Run ``python -m airflow_provider_anaplan.testing.emulator`` as a child process.

    ``fixture`` is a dict (written to a temporary JSON file) or a path to a JSON/YAML file.
    Yields an :class:`EmulatorHandle` once the server answers; terminates it on exit.
    """
    port = port or free_port(host)
    tmp_fixture: str | None = None
    args = [
        sys.executable,
        "-m",
        "airflow_provider_anaplan.testing.emulator",
        "--host",
        host,
        "--port",
        str(port),
    ]
    if isinstance(fixture, dict):
        handle, tmp_fixture = tempfile.mkstemp(prefix="anaplan-fixture-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(fixture, out)
        args += ["--fixture", tmp_fixture]
    elif fixture is not None:
        args += ["--fixture", str(fixture)]
    if "--log-level" not in extra_args:
        args += ["--log-level", "warning"]
    args += list(extra_args)
    scheme = "https" if "--ssl-certfile" in extra_args else "http"
    url = f"{scheme}://{host}:{port}"
    process = subprocess.Popen(args, env={**os.environ, **(env or {})})
    admin: EmulatorAdmin | None = None
    try:
        _wait_ready(url, process, timeout)
        admin = EmulatorAdmin(url)
        yield EmulatorHandle(url=url, admin=admin, process=process)
    finally:
        if admin is not None:
            admin.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if tmp_fixture:
            os.unlink(tmp_fixture)
