"""Running the emulator: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import uvicorn

from .app import create_app
from .banner import banner_lines, base_url

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
        self.emulator = self.app.emulator
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


class BindError(OSError):
    """The emulator cannot listen on the address (in use, not local, no permission)."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free port); raises :class:`BindError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)  # connections queue from now on, before uvicorn starts accepting
    except OSError as exc:
        sock.close()
        raise BindError(exc.errno, exc.strerror or str(exc)) from exc
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    fixture: dict[str, Any] | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "info",
    banner: bool = True,
) -> None:
    """Serve in the foreground until interrupted (the CLI).

    With ``banner`` it first prints the start-up banner to stdout (seed users, ids, URLs and an Airflow
    connection); the socket already listens then, so the URLs it prints answer. Raises when the
    address is taken (:class:`BindError`).
    """
    app = create_app(fixture)
    sock = bind_socket(host, port)
    try:
        bound = sock.getsockname()[1]
        if banner:
            root = base_url("https" if ssl_certfile else "http", host, bound)
            listening = f"{host}:{bound}" if host in ("", "0.0.0.0", "::", "[::]") else None
            text = "\n".join(banner_lines(app.emulator.state, root, listening))
            print(text, flush=True)
        server = uvicorn.Server(_config(app, host, bound, ssl_certfile, ssl_keyfile, log_level))
        server.run(sockets=[sock])
    finally:
        sock.close()
