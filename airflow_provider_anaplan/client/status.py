"""Task states and results, parsed tolerantly (unknown states and fields never crash)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TaskState", "RowCounts", "TaskResult", "TaskStatus"]

_COUNT_KEYS = {
    "successRowCount": "successful",
    "failedCount": "failed",
    "ignoredCount": "ignored",
    "warningsRowCount": "warnings",
    "totalRowCount": "total",
}


class TaskState(enum.StrEnum):
    """Anaplan task states; any state Anaplan adds later parses as UNKNOWN."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def _missing_(cls, value: object) -> TaskState:
        if isinstance(value, str):
            upper = value.strip().upper()
            if upper in cls.__members__:
                return cls[upper]
        return cls.UNKNOWN

    @classmethod
    def terminal(cls) -> frozenset[TaskState]:
        """States after which a task never changes."""
        return frozenset({cls.COMPLETE, cls.CANCELLED})

    @property
    def is_terminal(self) -> bool:
        return self in self.terminal()


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RowCounts:
    """Row counts summed over a result's ``details`` (None when Anaplan reported none)."""

    successful: int | None = None
    failed: int | None = None
    ignored: int | None = None
    warnings: int | None = None
    total: int | None = None

    @classmethod
    def from_details(cls, details: Sequence[Any]) -> RowCounts:
        sums: dict[str, int] = {}
        for detail in details:
            values = detail.get("values") if isinstance(detail, Mapping) else None
            if not isinstance(values, list):
                continue
            for key, raw in zip(values[0::2], values[1::2], strict=False):
                name = _COUNT_KEYS.get(str(key))
                number = _int(raw)
                if name and number is not None:
                    sums[name] = sums.get(name, 0) + number
        return cls(**sums)

    def __add__(self, other: RowCounts) -> RowCounts:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return RowCounts(*(add(getattr(self, f), getattr(other, f)) for f in _COUNT_KEYS.values()))

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNT_KEYS.values() if getattr(self, name) is not None}


@dataclass(frozen=True)
class TaskResult:
    """``task.result`` (or one of its ``nestedResults``)."""

    object_id: str | None
    successful: bool | None
    failure_dump_available: bool
    details: list[Any] = field(default_factory=list)
    nested: list[TaskResult] = field(default_factory=list)
    counts: RowCounts = field(default_factory=RowCounts)

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> TaskResult:
        details = payload.get("details")
        details = list(details) if isinstance(details, list) else []
        nested_raw = payload.get("nestedResults")
        nested = (
            [cls.from_api(n) for n in nested_raw if isinstance(n, Mapping)]
            if isinstance(nested_raw, list)
            else []
        )
        successful = payload.get("successful")
        object_id = payload.get("objectId")
        return cls(
            object_id=str(object_id) if object_id is not None else None,
            successful=successful if isinstance(successful, bool) else None,
            failure_dump_available=payload.get("failureDumpAvailable") is True,
            details=details,
            nested=nested,
            counts=RowCounts.from_details(details),
        )

    def messages(self, limit: int = 10) -> list[str]:
        """``localMessageText`` of the details (this result and nested ones), up to ``limit``."""
        out = [
            str(d["localMessageText"]).strip()
            for d in self.details
            if isinstance(d, Mapping) and d.get("localMessageText")
        ]
        for n in self.nested:
            out.extend(n.messages(limit))
        return out[:limit]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "object_id": self.object_id,
            "successful": self.successful,
            "failure_dump_available": self.failure_dump_available,
        }
        if self.counts.to_dict():
            data["rows"] = self.counts.to_dict()
        return data


@dataclass(frozen=True)
class TaskStatus:
    """One poll of ``GET …/tasks/{taskId}``. ``raw`` keeps the whole ``task`` object."""

    task_id: str
    action_id: str
    state: TaskState
    progress: float = 0.0
    current_step: str | None = None
    successful: bool | None = None
    failure_dump_available: bool = False
    object_id: str | None = None
    details: list[Any] = field(default_factory=list)
    nested: list[TaskResult] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    result: TaskResult | None = field(default=None, repr=False)

    @classmethod
    def from_api(cls, action_id: str, payload: Mapping[str, Any], task_id: str | None = None) -> TaskStatus:
        """Parse a task object (or a whole ``{"task": {...}}`` answer)."""
        task = payload.get("task", payload) if isinstance(payload, Mapping) else {}
        if not isinstance(task, Mapping):
            task = {}
        result_raw = task.get("result")
        result = TaskResult.from_api(result_raw) if isinstance(result_raw, Mapping) else None
        try:
            progress = float(task.get("progress") or 0.0)
        except (TypeError, ValueError):
            progress = 0.0
        step = task.get("currentStep")
        return cls(
            task_id=str(task.get("taskId") or task_id or ""),
            action_id=str(action_id),
            state=TaskState(task.get("taskState") or "UNKNOWN"),
            progress=progress,
            current_step=str(step) if step is not None else None,
            successful=result.successful if result else None,
            failure_dump_available=result.failure_dump_available if result else False,
            object_id=result.object_id if result else None,
            details=result.details if result else [],
            nested=result.nested if result else [],
            raw=dict(task),
            result=result,
        )

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @property
    def is_success(self) -> bool:
        """COMPLETE and ``successful`` (COMPLETE can still be a failure)."""
        return self.state is TaskState.COMPLETE and self.successful is True

    @property
    def is_failure(self) -> bool:
        """Terminal and not a success (COMPLETE with successful false/missing, or CANCELLED)."""
        return self.is_terminal and not self.is_success

    @property
    def counts(self) -> RowCounts:
        """Row counts over this result and its nested results."""
        if self.result is None:
            return RowCounts()
        total = self.result.counts
        for nested in self.result.nested:
            total = total + nested.counts
        return total

    def summary(self) -> str:
        """One line for logs and error messages."""
        parts = [f"task {self.task_id} of {self.action_id}: {self.state.value}"]
        if self.state is TaskState.COMPLETE:
            parts.append("successful" if self.successful else "NOT successful")
        rows = self.counts.to_dict()
        if rows:
            parts.append("rows " + ", ".join(f"{k} {v}" for k, v in rows.items()))
        if self.failure_dump_available or any(n.failure_dump_available for n in self.nested):
            parts.append("failure dump available")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Compact JSON-safe summary (trigger events, XCom)."""
        data: dict[str, Any] = {
            "task_id": self.task_id,
            "action_id": self.action_id,
            "state": self.state.value,
            "progress": self.progress,
            "current_step": self.current_step,
            "successful": self.successful,
            "failure_dump_available": self.failure_dump_available,
            "object_id": self.object_id,
        }
        rows = self.counts.to_dict()
        if rows:
            data["rows"] = rows
        if self.nested:
            data["nested"] = [n.to_dict() for n in self.nested]
        messages = self.result.messages() if self.result else []
        if messages:
            data["messages"] = messages
        return data
