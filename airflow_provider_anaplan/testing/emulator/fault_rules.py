"""Fault rules: what a rule matches, what it does, and how it counts (validated on creation).

A rule matches by ``method`` + ``path_regex``; ``skip`` lets the first N matching requests through
untouched; then either one *effect* fires ``count`` times (every time without ``count``, each time
with probability ``rate``), or the ``sequence`` of effects is applied to successive matching
requests (``"pass"`` lets one through) and the rule is exhausted after the list.

An effect (:class:`FaultEffect`) is ``status`` or ``drop`` (answered ``when`` ``"before"`` the handler
runs, or ``"after"`` it ran, the reply being lost), optionally preceded by ``delay_ms`` (a plain
wait) or ``hold_ms`` (the body is read, the request is held, then it proceeds even if the client
has gone). Any bad option raises ``ValueError`` with a message naming it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

EFFECT_KEYS = frozenset({"status", "drop", "when", "hold_ms", "delay_ms", "retry_after", "message"})
RULE_KEYS = EFFECT_KEYS | {"method", "methods", "path_regex", "path", "count", "rate", "skip", "sequence"}
READ_ONLY_KEYS = frozenset({"id", "source", "fired", "matched"})  # from ``to_dict``; ignored on input


def number_option(
    data: dict[str, Any], key: str, minimum: float = 0.0, maximum: float | None = None
) -> float | None:
    """``data[key]`` as a float within bounds (None when absent); ``ValueError`` naming the key."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum:g} and {maximum:g}" if maximum is not None else f">= {minimum:g}"
        raise ValueError(f"{key} must be {bound}, got {value!r}")
    return float(value)


def _integer(data: dict[str, Any], key: str, minimum: int) -> int | None:
    """``data[key]`` as an int >= ``minimum`` (None when absent)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _rate(data: dict[str, Any]) -> float:
    """The firing probability (default 1)."""
    rate = number_option(data, "rate", 0.0, 1.0)
    return 1.0 if rate is None else rate


def status_option(value: Any, where: str = "status") -> int | None:
    """An HTTP status (int or digit string) in 100..599, or None."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"{where} must be an HTTP status code (100-599), got {value!r}")
    return value


@dataclass(frozen=True)
class FaultEffect:
    """What a firing rule (or one ``sequence`` element) does to a request."""

    status: int | None = None
    drop: bool = False
    when: str = "before"
    hold_ms: float = 0.0
    delay_ms: float = 0.0
    retry_after: float | None = None
    message: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> FaultEffect:
        """Validate ``data`` (effect keys only; the caller filters rule keys)."""
        try:
            return cls._parse(data)
        except ValueError as exc:
            raise ValueError(f"{where}{exc}") from None

    @classmethod
    def _parse(cls, data: dict[str, Any]) -> FaultEffect:
        status = status_option(data.get("status"))
        drop = data.get("drop") or False
        if not isinstance(drop, bool):
            raise ValueError(f"drop must be true or false, got {drop!r}")
        if status is not None and drop:
            raise ValueError("status and drop are exclusive")
        when = data.get("when") or "before"
        if when not in ("before", "after"):
            raise ValueError(f"when must be 'before' or 'after', got {when!r}")
        if when == "after" and status is None and not drop:
            raise ValueError("when='after' needs status or drop (the reply that replaces the handler's)")
        message = data.get("message")
        if message is not None and not isinstance(message, str):
            raise ValueError(f"message must be a string, got {message!r}")
        effect = cls(
            status=status,
            drop=drop,
            when=when,
            hold_ms=number_option(data, "hold_ms") or 0.0,
            delay_ms=number_option(data, "delay_ms") or 0.0,
            retry_after=number_option(data, "retry_after"),
            message=message,
        )
        if status is None and not drop and effect.hold_ms <= 0 and effect.delay_ms <= 0:
            raise ValueError("a fault needs status, drop, hold_ms or delay_ms")
        return effect

    @classmethod
    def from_step(cls, value: Any, index: int, defaults: dict[str, Any]) -> FaultEffect | None:
        """One ``sequence`` element: ``"pass"`` (None), ``"drop"``, ``"drop-after"``, a status, a dict."""
        where = f"sequence[{index}]: "
        if value == "pass":
            return None
        if value == "drop":
            return cls(drop=True)
        if value == "drop-after":
            return cls(drop=True, when="after")
        if isinstance(value, int) and not isinstance(value, bool):
            return cls.from_dict({**defaults, "status": status_option(value, f"{where}status")}, where)
        if isinstance(value, dict):
            unknown = set(value) - EFFECT_KEYS
            if unknown:
                raise ValueError(f"{where}unknown keys {sorted(unknown)} (allowed: {sorted(EFFECT_KEYS)})")
            return cls.from_dict({**defaults, **value}, where)
        raise ValueError(
            f"{where}expected 'pass', 'drop', 'drop-after', a status code or an object, got {value!r}"
        )

    @property
    def kind(self) -> str:
        """Counter key: ``"drop"``, the status, ``"hold"`` or ``"delay"``."""
        if self.drop:
            return "drop"
        if self.status is not None:
            return str(self.status)
        return "hold" if self.hold_ms > 0 else "delay"

    @property
    def replies(self) -> bool:
        """True when the effect replaces the response (status or drop)."""
        return self.drop or self.status is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "drop": self.drop,
            "when": self.when,
            "hold_ms": self.hold_ms,
            "delay_ms": self.delay_ms,
            "retry_after": self.retry_after,
            "message": self.message,
        }


def _methods(data: dict[str, Any]) -> frozenset[str] | None:
    """``method``/``methods`` (a string or a list) as an upper-case set; None matches every method."""
    method = data.get("method") or data.get("methods")
    if method is None:
        return None
    if isinstance(method, str):
        method = [method]
    if not isinstance(method, list) or not all(isinstance(m, str) and m for m in method):
        raise ValueError(f"method must be a string or a list of strings, got {method!r}")
    return frozenset(m.upper() for m in method)


def _pattern(path_regex: Any) -> re.Pattern[str] | None:
    """The compiled ``path_regex`` (None matches every path)."""
    if path_regex is None:
        return None
    if not isinstance(path_regex, str):
        raise ValueError(f"path_regex must be a string, got {path_regex!r}")
    try:
        return re.compile(path_regex)
    except re.error as exc:
        raise ValueError(f"path_regex {path_regex!r} is not a valid regular expression: {exc}") from None


@dataclass
class FaultRule:
    """One scripted rule (see the module docstring). ``draw`` is called under the settings' lock."""

    id: int
    method: frozenset[str] | None = None
    path_regex: str | None = None
    effect: FaultEffect | None = None
    sequence: list[FaultEffect | None] | None = None
    count: int | None = None
    rate: float = 1.0
    skip: int = 0
    source: str = "rule"
    fired: int = 0
    matched: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, rule_id: int, data: dict[str, Any], source: str = "rule") -> FaultRule:
        """Validate a rule given as JSON (``None`` values count as absent)."""
        data = {k: v for k, v in data.items() if v is not None and k not in READ_ONLY_KEYS}
        unknown = set(data) - RULE_KEYS
        if unknown:
            raise ValueError(f"unknown fault rule keys {sorted(unknown)} (allowed: {sorted(RULE_KEYS)})")
        path_regex = data.get("path_regex", data.get("path"))
        rule = cls(
            id=rule_id,
            method=_methods(data),
            path_regex=path_regex,
            count=_integer(data, "count", 1),
            rate=_rate(data),
            skip=_integer(data, "skip", 0) or 0,
            source=source,
            _pattern=_pattern(path_regex),
        )
        if "sequence" in data:
            rule.sequence = cls._sequence(data)
        else:
            rule.effect = FaultEffect.from_dict({k: v for k, v in data.items() if k in EFFECT_KEYS})
        return rule

    @staticmethod
    def _sequence(data: dict[str, Any]) -> list[FaultEffect | None]:
        steps = data["sequence"]
        if not isinstance(steps, list) or not steps:
            raise ValueError("sequence must be a non-empty list")
        clash = set(data) & {"status", "drop", "when", "hold_ms", "delay_ms", "count", "rate"}
        if clash:
            raise ValueError(f"sequence cannot be combined with {sorted(clash)} (put them in its elements)")
        defaults: dict[str, Any] = {k: data[k] for k in ("retry_after", "message") if k in data}
        return [FaultEffect.from_step(step, i, defaults) for i, step in enumerate(steps)]

    @property
    def exhausted(self) -> bool:
        if self.sequence is not None:
            return self.matched >= self.skip + len(self.sequence)
        return self.count is not None and self.count <= 0

    def matches(self, method: str, path: str) -> bool:
        if self.exhausted:
            return False
        if self.method is not None and method not in self.method:
            return False
        return self._pattern is None or self._pattern.search(path) is not None

    def draw(self, rng: random.Random) -> FaultEffect | None:
        """Consume one matching request: the effect to apply, or None to let it through."""
        index = self.matched - self.skip
        self.matched += 1
        if index < 0:
            return None
        if self.sequence is not None:
            effect = self.sequence[index]
        else:
            if self.rate < 1.0 and rng.random() >= self.rate:
                return None
            if self.count is not None:
                self.count -= 1
            effect = self.effect
        if effect is not None:
            self.fired += 1
        return effect

    def to_dict(self) -> dict[str, Any]:
        # A sequence rule has its effects in "sequence"; its top-level effect keys are null.
        effect = self.effect.to_dict() if self.effect is not None else dict.fromkeys(EFFECT_KEYS)
        return {
            "id": self.id,
            "method": sorted(self.method) if self.method else None,
            "path_regex": self.path_regex,
            **effect,
            "count": self.count,
            "rate": self.rate if self.sequence is None else None,
            "skip": self.skip,
            "sequence": None
            if self.sequence is None
            else [step.to_dict() if step else "pass" for step in self.sequence],
            "source": self.source,
            "matched": self.matched,
            "fired": self.fired,
        }
