"""Chunk GETs off the event loop: an httpx transport that runs each request in a worker thread on a
plain blocking :mod:`http.client` connection of its own.

Why: httpx's async client reads a response body 64 KiB at a time on the event-loop thread, so
parallel chunk downloads serialise on that one thread (about a quarter of what the machine allows).
A worker thread reading a whole chunk with ``http.client`` spends its time in ``recv_into`` with the
GIL released, so ``max_concurrency`` chunks really are read in parallel.

The transport plugs into :class:`~airflow_provider_anaplan.client.http.HttpSession` (see
:func:`chunk_session`), so chunk GETs keep the client's retry policy, 401 re-authentication, error
mapping and timeout unchanged: only the bytes move differently. A client built with a custom httpx
transport (tests, proxies) keeps using it.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import ssl
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from airflow_provider_anaplan.client.http import HttpSession, ssl_verify

__all__ = ["ThreadedTransport", "chunk_session"]

_RESET = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _InFlight:
    """The connection a worker thread is using, so a cancelled request can abort its read."""

    def __init__(self) -> None:
        self.conn: http.client.HTTPConnection | None = None
        self.aborted = False
        self.lock = threading.Lock()

    def abort(self) -> None:
        with self.lock:
            self.aborted = True
            sock = getattr(self.conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the blocked recv returns at once
            except OSError:
                pass


class ThreadedTransport(httpx.AsyncBaseTransport):
    """Each request runs in a worker thread on a pooled keep-alive ``http.client`` connection.

    :param verify: ``ssl_verify(config.verify)``: an ``SSLContext`` or False (no verification).
    :param timeout: socket timeout (connect and each read), seconds, like httpx's per-operation one.
    :param max_workers: threads (and so connections) at most; idle connections are kept for reuse.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool, timeout: float | None, max_workers: int) -> None:
        if verify is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif isinstance(verify, ssl.SSLContext):
            context = verify
        else:
            context = ssl_verify(True)  # type: ignore[assignment]
        self._context = context
        self._timeout = timeout
        self._max_idle = max_workers
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="anaplan-fetch")
        self._closed = False

    # ------------------------------------------------------------------------------------------ async
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        target = url.raw_path.decode("ascii")
        headers = list(request.headers.raw)
        flight = _InFlight()
        future = asyncio.get_running_loop().run_in_executor(
            self._pool, self._roundtrip, key, request.method, target, headers, body, flight
        )
        try:
            status, reason, response_headers, data = await future
        except asyncio.CancelledError:
            flight.abort()  # the worker thread stops reading; its connection is discarded
            raise
        return httpx.Response(
            status,
            headers=response_headers,
            stream=httpx.ByteStream(data),
            request=request,
            extensions={"reason_phrase": reason.encode("latin-1", "replace"), "http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Close idle connections and stop the worker threads (requests under way finish)."""
        with self._lock:
            self._closed = True
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()
        self._pool.shutdown(wait=False)

    # ------------------------------------------------------------------------------------------ thread
    def _connect(self, key: tuple[str, str, int]) -> http.client.HTTPConnection:
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self._timeout, context=self._context)
        return http.client.HTTPConnection(host, port, timeout=self._timeout)

    def _checkout(self, key: tuple[str, str, int]) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return self._connect(key), False

    def _checkin(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < self._max_idle:
                idle.append(conn)
                return
        conn.close()

    def _roundtrip(
        self,
        key: tuple[str, str, int],
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        flight: _InFlight,
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in (1, 2):
            conn, reused = self._checkout(key)
            with flight.lock:
                flight.conn = conn
                aborted = flight.aborted
            if aborted:
                conn.close()
                raise httpx.ReadError("request cancelled")
            started = False
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name.decode("latin-1"), value)
                conn.endheaders(body or None)
                response = conn.getresponse()
                started = True
                data = response.read()
                result = (response.status, response.reason, response.getheaders(), data)
            except BaseException as exc:
                conn.close()
                if reused and not started and attempt == 1 and isinstance(exc, _RESET) and not flight.aborted:
                    continue  # a keep-alive connection the server had closed: once more on a new one
                raise _httpx_error(exc, started, flight.aborted) from exc
            if response.will_close or flight.aborted:
                conn.close()
            else:
                self._checkin(key, conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover


def _httpx_error(exc: BaseException, started: bool, aborted: bool) -> BaseException:
    """The httpx exception :class:`HttpSession` understands (retry rules, messages)."""
    if not isinstance(exc, Exception):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if aborted:
        return httpx.ReadError(f"request cancelled ({text})")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return httpx.ReadTimeout(text) if started else httpx.ConnectTimeout(text)
    if isinstance(exc, ssl.SSLError):
        return httpx.ConnectError(text)
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
        return httpx.ConnectError(text)
    if isinstance(exc, (http.client.HTTPException, OSError)):
        return httpx.ReadError(text) if started else httpx.RemoteProtocolError(text)
    return exc


# ---------------------------------------------------------------------------------------------------
# One chunk session per client session

_SESSIONS: weakref.WeakKeyDictionary[HttpSession, HttpSession] = weakref.WeakKeyDictionary()
_SESSIONS_LOCK = threading.Lock()


def _forget_sessions() -> None:
    global _SESSIONS, _SESSIONS_LOCK
    _SESSIONS, _SESSIONS_LOCK = weakref.WeakKeyDictionary(), threading.Lock()


os.register_at_fork(after_in_child=_forget_sessions)  # threads and sockets do not survive a fork


def _proxied(url: str) -> bool:
    """Whether the environment routes ``url`` through a proxy (httpx's ``trust_env`` rules)."""
    import urllib.request
    from urllib.parse import urlsplit

    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    if not any(proxies.get(key) for key in (parts.scheme, "all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def chunk_session(owner: Any) -> HttpSession:
    """The :class:`HttpSession` chunk GETs of ``owner`` (an ``AnaplanAsyncClient``) go through.

    Same retry policy, token source and timeout as ``owner.session``, on a :class:`ThreadedTransport`
    (one per client session, closed with it). A client built with its own httpx transport keeps it, and
    so does a process with an HTTP(S) proxy in its environment (``HTTPS_PROXY``, ``ALL_PROXY`` …, which
    httpx honours and this transport does not speak): chunk GETs then take httpx's path, as every other
    request does.
    """
    session: HttpSession = owner.session
    if getattr(owner, "_transport", None) is not None or _proxied(owner.config.api_url):
        return session
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(session)
        if found is not None:
            return found
        cfg = owner.config
        transport = ThreadedTransport(
            verify=ssl_verify(cfg.verify), timeout=cfg.timeout, max_workers=cfg.max_concurrency
        )
        client = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(cfg.timeout), headers=session.client.headers
        )
        found = HttpSession(client, session.policy, session.tokens, timeout=session.timeout)
        _SESSIONS[session] = found
        weakref.finalize(session, transport.close)
        return found
