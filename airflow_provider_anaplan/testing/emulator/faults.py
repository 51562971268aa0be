"""Fault injection and request accounting: an outermost ASGI middleware.

Per request (admin paths ``/_emulator/*`` are never faulted):

* ``latency_ms`` is added before the handler runs;
* a shared bandwidth cap (bytes/s across all requests, each direction: a full-duplex link) throttles
  request and response bodies, sent in slices (64 KiB, or 5 ms of the rate) so concurrent
  responses interleave;
* the first scripted rule (:mod:`.fault_rules`) that matches and fires applies its effect:
  ``delay_ms`` (wait), ``hold_ms`` (read the body, wait, then go on even if the client has gone:
  the handler is shielded from cancellation and executes late, as a real back end does), then
  a ``status`` (``429`` carries ``Retry-After``) or a ``drop`` (the socket is closed without any
  response, so clients see ``RemoteProtocolError``/``ReadError``), either ``before`` the handler
  or ``after`` it (the real handler runs and its reply is lost: an ambiguous failure).

Counters: requests per route template (``"PUT /2/0/workspaces/{workspaceId}/.../chunks/{chunkId}"``),
per template + status, faults per rule and kind, and ``lost_replies`` (handler replies the client
never got: ``when="after"`` faults and held requests whose client had gone).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .fault_rules import FaultEffect, FaultRule
from .fault_settings import Bandwidth, FaultSettings
from .responses import STATUS_MESSAGES, error_body

__all__ = ["ADMIN_PREFIX", "Bandwidth", "FaultMiddleware", "FaultRule", "FaultSettings", "drop_connection"]

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_emulator"
_SEND_SLICE = 64 * 1024


class DroppedConnection(Exception):
    """Raised (fallback only) to make the ASGI server abort a response mid-way."""


def _cycle(send: Send) -> Any:
    """uvicorn's request/response cycle behind ``send`` (None under another server)."""
    return getattr(send, "__self__", None)


def client_gone(send: Send) -> bool:
    """True once the client of this request has disconnected (uvicorn only)."""
    return bool(getattr(_cycle(send), "disconnected", False))


async def drop_connection(send: Send) -> None:
    """Close the client's socket without sending a response."""
    cycle = _cycle(send)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.close()
        for _ in range(50):
            if getattr(cycle, "disconnected", False):
                return
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1048576")]})
    raise DroppedConnection("connection dropped by fault injection")


async def read_body(receive: Receive) -> Receive | None:
    """Read the whole request body now; a ``receive`` that replays it (None if the client left first)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    pending: list[Message] = [{"type": "http.request", "body": b"".join(parts), "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _fault_response(effect: FaultEffect, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status = effect.status or 500
    message = effect.message or f"{STATUS_MESSAGES.get(status, 'Error')} (injected by the emulator)"
    body = json.dumps(error_body(status, message, path)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 429 or effect.retry_after is not None:
        retry = effect.retry_after if effect.retry_after is not None else 1
        headers.append((b"retry-after", str(int(retry) if float(retry).is_integer() else retry).encode()))
    return status, headers, body


class FaultMiddleware:
    """Outermost ASGI layer: accounting, latency, bandwidth and fault rules."""

    def __init__(self, app: ASGIApp, emulator: Any) -> None:
        self.app = app
        self.emulator = emulator
        self._detached: set[asyncio.Task[None]] = set()

    def _template(self, scope: Scope) -> str:
        for route in self.app.router.routes:  # type: ignore[attr-defined]
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", scope["path"]))
        return "<unmatched>"

    async def _run_shielded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app in its own task: cancelling this request (client gone, shutdown) does not stop it."""
        task = asyncio.ensure_future(self.app(scope, receive, send))
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)
        await asyncio.shield(task)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        emulator = self.emulator
        counters = emulator.state.counters
        faults: FaultSettings = emulator.faults
        method = scope["method"]
        path = scope["path"]
        key = f"{method} {self._template(scope)}"
        counters.requests[key] += 1
        status_holder: dict[str, int] = {}
        bandwidth = faults.bandwidth

        async def metered_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and bandwidth.rate:
                await bandwidth.consume(len(message.get("body", b"")), upstream=True)
            return message

        async def metered_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            if message["type"] == "http.response.body" and bandwidth.rate:
                body = message.get("body", b"")
                step = bandwidth.slice_size(_SEND_SLICE)
                if len(body) > step:
                    more = message.get("more_body", False)
                    for start in range(0, len(body), step):
                        piece = body[start : start + step]
                        await bandwidth.consume(len(piece))
                        last = start + step >= len(body)
                        await send(
                            {"type": "http.response.body", "body": piece, "more_body": more or not last}
                        )
                    return
                await bandwidth.consume(len(body))
            await send(message)

        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        picked = faults.pick(method, path)
        try:
            if picked is None:
                await self.app(scope, metered_receive, metered_send)
                return
            rule, effect = picked
            counters.faults[f"rule {rule.id}"] += 1
            counters.faults[effect.kind] += 1
            await self._apply(scope, metered_receive, metered_send, send, effect, key, status_holder)
        finally:
            emulator.state.counters.statuses[f"{key} -> {status_holder.get('status', 'none')}"] += 1

    async def _apply(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        raw_send: Send,
        effect: FaultEffect,
        key: str,
        status_holder: dict[str, int],
    ) -> None:
        """Apply one fault effect to a request (``send`` is metered, ``raw_send`` is the server's)."""
        method, path = scope["method"], scope["path"]
        if effect.delay_ms > 0:
            await asyncio.sleep(effect.delay_ms / 1000.0)
        if effect.hold_ms > 0:
            held = await self._hold(receive, effect.hold_ms)
            if held is None:
                status_holder["status"] = 0
                return
            receive = held
        counters = self.emulator.state.counters
        if not effect.replies:  # a pure delay or hold: the request proceeds normally
            if effect.hold_ms > 0:
                await self._run_shielded(scope, receive, send)
                if client_gone(raw_send):
                    counters.lost_replies[f"{key} -> {status_holder.get('status', 'none')}"] += 1
            else:
                await self.app(scope, receive, send)
            return
        if effect.when == "after":
            captured: dict[str, int] = {}

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    captured["status"] = message["status"]

            try:
                await self._run_shielded(scope, receive, capture)
            except Exception:  # the reply is lost anyway; the fault still applies
                log.exception("fault: handler failed under a when='after' fault for %s %s", method, path)
            counters.lost_replies[f"{key} -> {captured.get('status', 'none')}"] += 1
        if effect.drop:
            log.info("fault: dropping connection for %s %s", method, path)
            status_holder["status"] = 0
            await drop_connection(raw_send)
            return
        status, headers, body = _fault_response(effect, path)
        log.info("fault: answering %s to %s %s", status, method, path)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _hold(self, receive: Receive, hold_ms: float) -> Receive | None:
        """Read the body, hold the request; None if it must not proceed (client left mid-body, reset)."""
        replay = await read_body(receive)
        if replay is None:
            log.info("fault: held request abandoned (the client left before sending its body)")
            return None
        generation = getattr(self.emulator, "generation", 0)
        await asyncio.sleep(hold_ms / 1000.0)
        if getattr(self.emulator, "generation", 0) != generation:
            log.info("fault: held request discarded (the emulator was reset meanwhile)")
            return None
        return replay
