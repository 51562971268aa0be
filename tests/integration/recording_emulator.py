"""The emulator as a child process that remembers every token it mints (for the log secret scan).

The emulator keeps its tokens in its own process's memory and its admin API does not list them;
the tests reset its state before each test, which drops them. This launcher serves the emulator's
own ASGI app (``create_app`` with the same uvicorn settings as ``anaplan-emulator``) wrapped in
:class:`TokenRecorder`: after every request it copies the keys of the live state's access-token and
refresh-token tables into a set that survives resets, and answers ``GET /_scan/minted`` with them.
Nothing else changes: every other request goes to the emulator untouched.

Run as a script (``python recording_emulator.py --port N --fixture F.json``); the integration tests
start it with :func:`run_recording_emulator`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx

from airflow_provider_anaplan.testing.pytest_plugin import EmulatorAdmin, EmulatorHandle, free_port

MINTED_PATH = "/_scan/minted"


class TokenRecorder:
    """ASGI wrapper: record the emulator's access and refresh tokens after each request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.emulator = app.emulator
        self.access: dict[str, None] = {}  # insertion-ordered sets
        self.refresh: dict[str, None] = {}

    def record(self) -> None:
        security = self.emulator.state.security
        self.access.update(dict.fromkeys(security.tokens))
        self.refresh.update(dict.fromkeys(security.refresh_tokens))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == MINTED_PATH:
            self.record()
            body = json.dumps({"access": list(self.access), "refresh": list(self.refresh)}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.record()


def minted_tokens(handle: EmulatorHandle) -> dict[str, list[str]]:
    """``{"access": [...], "refresh": [...]}``: every token the recording emulator has minted so far."""
    response = httpx.get(f"{handle.url}{MINTED_PATH}", timeout=10.0)
    response.raise_for_status()
    return response.json()


@contextlib.contextmanager
def run_recording_emulator(
    fixture: dict[str, Any], user: str, password: str, timeout: float = 30.0
) -> Iterator[EmulatorHandle]:
    """Start this script as a child process serving ``fixture``; yield a handle for ``user``/``password``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fd, fixture_path = tempfile.mkstemp(prefix="anaplan-fixture-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(fixture, out)
    process = subprocess.Popen(
        [sys.executable, __file__, "--port", str(port), "--fixture", fixture_path, "--log-level", "warning"]
    )
    admin: EmulatorAdmin | None = None
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the recording emulator exited with code {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/_emulator/health", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the recording emulator at {url} did not answer within {timeout} s")
            time.sleep(0.05)
        admin = EmulatorAdmin(url)
        yield EmulatorHandle(url=url, admin=admin, process=process, user=user, password=password)
    finally:
        if admin is not None:
            admin.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        os.unlink(fixture_path)


def main(argv: list[str] | None = None) -> int:
    import logging

    import uvicorn

    from airflow_provider_anaplan.testing.emulator.app import create_app
    from airflow_provider_anaplan.testing.emulator.seed import build_state, read_fixture_file
    from airflow_provider_anaplan.testing.emulator.server import _config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    fixture = read_fixture_file(args.fixture)
    build_state(fixture)  # validate before serving
    app = TokenRecorder(create_app(fixture))
    uvicorn.Server(_config(app, args.host, args.port, None, None, args.log_level)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
