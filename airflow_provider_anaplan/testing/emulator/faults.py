"""Fault injection and request accounting: an outermost ASGI middleware.

Per request (admin paths ``/_emulator/*`` are never faulted):

* ``latency_ms`` is added before the handler runs;
* a shared bandwidth cap (bytes/s across all requests) throttles request and response bodies;
* rules fire by method + path regex, ``count`` (N times) and/or ``rate`` (probability). A rule
  answers a ``status`` (``429`` carries ``Retry-After``) or ``drop`` s the connection (the socket
  is closed without any response, so clients see a ``RemoteProtocolError``/``ReadError``), either
  ``before`` the handler or ``after`` it (the real handler runs, its response is discarded; this
  simulates an ambiguous failure, e.g. a task POST that did create the task). ``delay_ms`` adds a
  per-rule delay.

Counters: requests per route template (``"PUT /2/0/workspaces/{workspaceId}/.../chunks/{chunkId}"``)
and per template + status.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import STATUS_MESSAGES, error_body

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_emulator"
_SEND_SLICE = 64 * 1024


class DroppedConnection(Exception):
    """Raised (fallback only) to make the ASGI server abort a response mid-way."""


@dataclass
class FaultRule:
    """One fault rule (see the module docstring)."""

    id: int
    method: frozenset[str] | None = None
    path_regex: str | None = None
    status: int | None = None
    drop: bool = False
    when: str = "before"
    count: int | None = None
    rate: float = 1.0
    retry_after: float | None = None
    delay_ms: float = 0.0
    message: str | None = None
    source: str = "rule"
    fired: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, rule_id: int, data: dict[str, Any], source: str = "rule") -> FaultRule:
        method = data.get("method") or data.get("methods")
        if isinstance(method, str):
            method = [method]
        when = str(data.get("when", "before"))
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        status = data.get("status")
        drop = bool(data.get("drop", False))
        delay = float(data.get("delay_ms", 0.0))
        if status is None and not drop and delay <= 0:
            raise ValueError("a fault rule needs status, drop or delay_ms")
        path_regex = data.get("path_regex") or data.get("path")
        rule = cls(
            id=rule_id,
            method=frozenset(m.upper() for m in method) if method else None,
            path_regex=path_regex,
            status=int(status) if status is not None else None,
            drop=drop,
            when=when,
            count=int(data["count"]) if data.get("count") is not None else None,
            rate=float(data.get("rate", 1.0)),
            retry_after=float(data["retry_after"]) if data.get("retry_after") is not None else None,
            delay_ms=delay,
            message=data.get("message"),
            source=source,
        )
        rule._pattern = re.compile(path_regex) if path_regex else None
        return rule

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.method is not None and method not in self.method:
            return False
        return self._pattern is None or self._pattern.search(path) is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": sorted(self.method) if self.method else None,
            "path_regex": self.path_regex,
            "status": self.status,
            "drop": self.drop,
            "when": self.when,
            "count": self.count,
            "rate": self.rate,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "source": self.source,
            "fired": self.fired,
        }


class Bandwidth:
    """A shared byte-rate limiter: every body byte reserves ``1/rate`` s of a common timeline."""

    def __init__(self) -> None:
        self.rate: float | None = None
        self._next = 0.0

    async def consume(self, nbytes: int) -> None:
        if not self.rate or nbytes <= 0:
            return
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + nbytes / self.rate
        await asyncio.sleep(self._next - now)


@dataclass
class FaultSettings:
    """Current fault configuration (admin ``/_emulator/faults``)."""

    latency_ms: float = 0.0
    bandwidth: Bandwidth = field(default_factory=Bandwidth)
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def clear(self) -> None:
        self.latency_ms = 0.0
        self.bandwidth.rate = None
        self.rules.clear()

    def add_rule(self, data: dict[str, Any], source: str = "rule") -> FaultRule:
        rule = FaultRule.from_dict(next(self._ids), data, source)
        self.rules.append(rule)
        return rule

    def set(self, values: dict[str, Any]) -> None:
        """Replace latency, bandwidth and rate-based faults (scripted rules are kept).

        Keys: ``latency_ms``, ``bandwidth_bytes_per_second``, ``error_rates`` ({status: p}),
        ``drop_rate``, ``retry_after``, ``methods``, ``path_regex``, ``seed``.
        """
        unknown = set(values) - {
            "latency_ms", "bandwidth_bytes_per_second", "error_rates", "drop_rate",
            "retry_after", "methods", "path_regex", "seed", "token_ttl_seconds",
        }  # fmt: skip
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        self.rules = [r for r in self.rules if r.source != "rates"]
        self.latency_ms = float(values.get("latency_ms") or 0.0)
        bandwidth = values.get("bandwidth_bytes_per_second")
        self.bandwidth.rate = float(bandwidth) if bandwidth else None
        if values.get("seed") is not None:
            self.rng.seed(values["seed"])
        common = {"methods": values.get("methods"), "path_regex": values.get("path_regex")}
        for status, rate in (values.get("error_rates") or {}).items():
            self.add_rule(
                {
                    **common,
                    "status": int(status),
                    "rate": float(rate),
                    "retry_after": values.get("retry_after"),
                },
                source="rates",
            )
        if values.get("drop_rate"):
            self.add_rule({**common, "drop": True, "rate": float(values["drop_rate"])}, source="rates")

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The first rule that matches and fires for this request (consumes its count)."""
        for rule in self.rules:
            if not rule.matches(method, path):
                continue
            if rule.rate < 1.0 and self.rng.random() >= rule.rate:
                continue
            if rule.count is not None:
                rule.count -= 1
            rule.fired += 1
            return rule
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "bandwidth_bytes_per_second": self.bandwidth.rate,
            "rules": [r.to_dict() for r in self.rules],
        }


async def drop_connection(send: Send) -> None:
    """Close the client's socket without sending a response."""
    cycle = getattr(send, "__self__", None)
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


def _fault_response(rule: FaultRule, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status = rule.status or 500
    message = rule.message or f"{STATUS_MESSAGES.get(status, 'Error')} (injected by the emulator)"
    body = json.dumps(error_body(status, message, path)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 429 or rule.retry_after is not None:
        retry = rule.retry_after if rule.retry_after is not None else 1
        headers.append((b"retry-after", str(int(retry) if float(retry).is_integer() else retry).encode()))
    return status, headers, body


class FaultMiddleware:
    """Outermost ASGI layer: accounting, latency, bandwidth and fault rules."""

    def __init__(self, app: ASGIApp, emulator: Any) -> None:
        self.app = app
        self.emulator = emulator

    def _template(self, scope: Scope) -> str:
        for route in self.app.router.routes:  # type: ignore[attr-defined]
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return getattr(route, "path", scope["path"])
        return "<unmatched>"

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
                await bandwidth.consume(len(message.get("body", b"")))
            return message

        async def metered_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            if message["type"] == "http.response.body" and bandwidth.rate:
                body = message.get("body", b"")
                if len(body) > _SEND_SLICE:
                    more = message.get("more_body", False)
                    for start in range(0, len(body), _SEND_SLICE):
                        piece = body[start : start + _SEND_SLICE]
                        await bandwidth.consume(len(piece))
                        last = start + _SEND_SLICE >= len(body)
                        await send(
                            {"type": "http.response.body", "body": piece, "more_body": more or not last}
                        )
                    return
                await bandwidth.consume(len(body))
            await send(message)

        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        rule = faults.pick(method, path)
        try:
            if rule is not None:
                counters.faults[f"rule {rule.id}"] += 1
                counters.faults["drop" if rule.drop else str(rule.status or "delay")] += 1
                if rule.delay_ms > 0:
                    await asyncio.sleep(rule.delay_ms / 1000.0)
                if rule.status is None and not rule.drop:
                    rule = None  # a pure delay rule
            if rule is None:
                await self.app(scope, metered_receive, metered_send)
                return
            if rule.when == "after":
                captured: list[Message] = []

                async def capture(message: Message) -> None:
                    captured.append(message)

                await self.app(scope, metered_receive, capture)
            if rule.drop:
                log.info("fault: dropping connection for %s %s", method, path)
                status_holder["status"] = 0
                await drop_connection(send)
                return
            status, headers, body = _fault_response(rule, path)
            log.info("fault: answering %s to %s %s", status, method, path)
            await metered_send({"type": "http.response.start", "status": status, "headers": headers})
            await metered_send({"type": "http.response.body", "body": body})
        finally:
            counters.statuses[f"{key} -> {status_holder.get('status', 'none')}"] += 1
