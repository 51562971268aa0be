"""Fault settings: the shared bandwidth cap, latency, rate-based faults and the ordered rule list.

``pick`` chooses the rule (and effect) for a request under a lock, so ``skip``/``count``/``sequence``
steps are consumed exactly once per request even under concurrency.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .fault_rules import FaultEffect, FaultRule, number_option, status_option


class Bandwidth:
    """A link's byte-rate: every body byte reserves ``1/rate`` s of a timeline shared by all requests.

    Full duplex, like a real link: request bodies (upstream) and response bodies (downstream) each have
    their own timeline at ``rate``, so concurrent requests share the capacity of their direction and a
    download is not slowed by an upload. ``bytes_up``/``bytes_down`` count what crossed the link while
    a cap was set (the benchmark's wire bytes).

    A sleep oversleeps by up to a timer tick (~1 ms): without credit, each overshoot would be lost
    link time and a fast link (1 Gbit/s: 64 KiB every 0.5 ms) would deliver far less than its rate.
    The timeline may therefore lag the clock by up to :attr:`BURST` seconds (a token bucket that deep).
    """

    BURST = 0.01

    def __init__(self) -> None:
        self.rate: float | None = None
        self._next = {True: 0.0, False: 0.0}
        self.bytes_up = 0
        self.bytes_down = 0

    async def consume(self, nbytes: int, *, upstream: bool = False) -> None:
        """Wait until ``nbytes`` may pass in that direction (returns at once without a cap)."""
        if not self.rate or nbytes <= 0:
            return
        if upstream:
            self.bytes_up += nbytes
        else:
            self.bytes_down += nbytes
        now = time.monotonic()
        start = max(now - self.BURST, self._next[upstream])
        self._next[upstream] = start + nbytes / self.rate
        if self._next[upstream] > now:
            await asyncio.sleep(self._next[upstream] - now)

    def slice_size(self, minimum: int) -> int:
        """Bytes to send per step: ``minimum``, or 5 ms of the rate on a fast link (fewer wake-ups)."""
        return max(minimum, int((self.rate or 0) * 0.005))


@dataclass
class FaultSettings:
    """Current fault configuration (admin ``/_emulator/faults``)."""

    latency_ms: float = 0.0
    bandwidth: Bandwidth = field(default_factory=Bandwidth)
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clear(self) -> None:
        with self._lock:
            self.latency_ms = 0.0
            self.bandwidth.rate = None
            self.rules = []

    def add_rule(self, data: dict[str, Any], source: str = "rule") -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a fault rule must be a JSON object")
        rule = FaultRule.from_dict(next(self._ids), data, source)
        with self._lock:
            self.rules = [*self.rules, rule]
        return rule

    def set(self, values: dict[str, Any]) -> None:
        """Replace latency, bandwidth and rate-based faults (scripted rules are kept).

        Keys: ``latency_ms``, ``bandwidth_bytes_per_second``, ``error_rates`` ({status: p}),
        ``drop_rate``, ``retry_after``, ``methods``, ``path_regex``, ``seed``. Validated first: a bad
        value changes nothing.
        """
        unknown = set(values) - {
            "latency_ms", "bandwidth_bytes_per_second", "error_rates", "drop_rate",
            "retry_after", "methods", "path_regex", "seed", "token_ttl_seconds",
        }  # fmt: skip
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        latency = number_option(values, "latency_ms") or 0.0
        bandwidth = number_option(values, "bandwidth_bytes_per_second")
        common = {"methods": values.get("methods"), "path_regex": values.get("path_regex")}
        rates = values.get("error_rates") or {}
        if not isinstance(rates, dict):
            raise ValueError("error_rates must be an object {status: probability}")
        new = [
            FaultRule.from_dict(
                next(self._ids),
                {
                    **common,
                    "status": status_option(s, "error_rates key"),
                    "rate": r,
                    "retry_after": values.get("retry_after"),
                },
                "rates",
            )
            for s, r in rates.items()
        ]
        if values.get("drop_rate"):
            new.append(
                FaultRule.from_dict(
                    next(self._ids), {**common, "drop": True, "rate": values["drop_rate"]}, "rates"
                )
            )
        with self._lock:
            self.rules = [r for r in self.rules if r.source != "rates"] + new
            self.latency_ms = latency
            self.bandwidth.rate = bandwidth or None
            if values.get("seed") is not None:
                self.rng.seed(values["seed"])

    def pick(self, method: str, path: str) -> tuple[FaultRule, FaultEffect] | None:
        """The first rule that matches and fires for this request, with its effect (atomic)."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    effect = rule.draw(self.rng)
                    if effect is not None:
                        return rule, effect
        return None

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            rules = [r.to_dict() for r in self.rules]
        return {
            "latency_ms": self.latency_ms,
            "bandwidth_bytes_per_second": self.bandwidth.rate,
            "bandwidth_bytes_up": self.bandwidth.bytes_up,
            "bandwidth_bytes_down": self.bandwidth.bytes_down,
            "rules": rules,
        }
