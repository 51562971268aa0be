"""Running the emulator: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import uvicorn

from .app import create_app

log = logging.getLogger(__name__)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed: with the stdlib loop on a background thread, every request of an
    in-process client pays ~40 ms of thread hand-over latency."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _config(
    app: Any, host: str, port: int, ssl_certfile: str | None, ssl_keyfile: str | None, log_level: str
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        proxy_headers=False,
        lifespan="on",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        timeout_keep_alive=30,
        h11_max_incomplete_event_size=1024 * 1024,
    )


class EmulatorServer:
    """The emulator served by uvicorn on a daemon thread (``start()``/``stop()``, context manager).

    ``port=0`` picks a free port; ``url`` is known once ``start()`` returns.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        fixture: dict[str, Any] | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.app = create_app(fixture)
        self.emulator = self.app.emulator  # type: ignore[attr-defined]
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self.scheme = "https" if ssl_certfile else "http"
        self._server = uvicorn.Server(
            _config(self.app, host, self.port, ssl_certfile, ssl_keyfile, log_level)
        )
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _run(self) -> None:
        self.loop = _new_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        finally:
            self.loop.close()

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Start serving and wait until the server accepts connections."""
        self._thread = threading.Thread(target=self._run, name=f"anaplan-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator server thread exited during start-up")
            deadline.wait(0.01)
            waited += 0.01
            if waited > timeout:
                raise TimeoutError("the emulator did not start in time")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and join the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    fixture: dict[str, Any] | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "info",
) -> None:
    """Serve in the foreground until interrupted (the CLI)."""
    app = create_app(fixture)
    uvicorn.Server(_config(app, host, port, ssl_certfile, ssl_keyfile, log_level)).run()
