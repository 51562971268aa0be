"""Task states and results, parsed tolerantly (unknown states and fields never crash).

This module holds THE outcome rule of the provider (:meth:`TaskStatus.outcome`, :meth:`TaskStatus.verdict`):
the client (``wait_for_task``, ``run_action``, ``raise_for_task``), the operators, the trigger and the
sensor all call it, so they cannot disagree about a task.

* COMPLETE is not success by itself (Anaplan documents that a COMPLETE task can have failed): it is
  SUCCESS only when ``result.successful`` is true (``true`` or the string ``"true"``, any case);
  ``false``/``"false"`` is FAILED, and a missing, null or odd ``successful`` (or no ``result`` at
  all) is FAILED too — Anaplan gave no verdict, so success is not proven.
* CANCELLED is CANCELLED, whatever its result says.
* Every other state (NOT_STARTED, IN_PROGRESS, CANCELLING, states Anaplan may add) is RUNNING: keep
  polling; a deadline bounds it.
* ``fail_on_partial`` (the operators' option, also on ``wait_for_task``/``run_action``) refines a
  COMPLETE verdict by row counts: True fails a successful task that rejected rows; False accepts a
  task that Anaplan reports unsuccessful but that loaded rows (a partial load); None (the client's
  default) keeps Anaplan's verdict alone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TaskState", "TaskOutcome", "TaskVerdict", "RowCounts", "TaskResult", "TaskStatus", "parse_successful"]

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


class TaskOutcome(enum.StrEnum):
    """What a task status means for the caller (see the module docstring for the rule)."""

    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RUNNING = "running"

    @property
    def is_terminal(self) -> bool:
        """The task will not change any more (success, failed or cancelled)."""
        return self is not TaskOutcome.RUNNING

    @property
    def is_success(self) -> bool:
        return self is TaskOutcome.SUCCESS


@dataclass(frozen=True)
class TaskVerdict:
    """The outcome rule applied with a row policy.

    ``ok``: the caller should treat the task as done well; ``outcome``: the base outcome;
    ``reason``: why it is not ok, or what was accepted (rejected rows); ``accepted_partial``: ok only
    because ``fail_on_partial`` is False.
    """

    outcome: TaskOutcome
    ok: bool
    reason: str = ""
    accepted_partial: bool = False


def parse_successful(value: Any) -> bool | None:
    """``result.successful`` as a bool: ``True``/``False`` or ``"true"``/``"false"`` in any case
    (surrounding spaces ignored); anything else (missing, null, other values) is None — no verdict."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
    return None


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
        object_id = payload.get("objectId")
        return cls(
            object_id=str(object_id) if object_id is not None else None,
            successful=parse_successful(payload.get("successful")),
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
    def outcome(self) -> TaskOutcome:
        """THE outcome rule (module docstring): SUCCESS only for COMPLETE with ``successful`` true."""
        if self.state is TaskState.CANCELLED:
            return TaskOutcome.CANCELLED
        if self.state is TaskState.COMPLETE:
            return TaskOutcome.SUCCESS if self.successful is True else TaskOutcome.FAILED
        return TaskOutcome.RUNNING

    @property
    def is_success(self) -> bool:
        """COMPLETE and ``successful`` (COMPLETE can still be a failure)."""
        return self.outcome is TaskOutcome.SUCCESS

    @property
    def is_failure(self) -> bool:
        """Terminal and not a success (COMPLETE with successful false/missing, or CANCELLED)."""
        return self.outcome in (TaskOutcome.FAILED, TaskOutcome.CANCELLED)

    @property
    def no_verdict(self) -> bool:
        """COMPLETE but Anaplan said nothing usable about success (``successful`` missing or odd)."""
        return self.state is TaskState.COMPLETE and self.successful is None

    def verdict(self, *, fail_on_partial: bool | None = None) -> TaskVerdict:
        """:attr:`outcome` refined by a row policy.

        * ``fail_on_partial=None`` (the client's default): Anaplan's verdict alone — ok only for SUCCESS.
        * SUCCESS without rejected rows -> ok. SUCCESS with failed/ignored rows -> not ok when
          ``fail_on_partial`` is True (the operators' default), ok when False (``accepted_partial``).
        * FAILED -> not ok, unless ``fail_on_partial`` is False and some rows loaded (an accepted
          partial load); a task that loaded nothing, or about which Anaplan gave no verdict, fails.
        * CANCELLED -> not ok. RUNNING -> not ok (not finished).
        """
        outcome = self.outcome
        if outcome is TaskOutcome.CANCELLED:
            return TaskVerdict(outcome, False, "the task was cancelled")
        if outcome is TaskOutcome.RUNNING:
            return TaskVerdict(outcome, False, f"the task has not finished ({self.state.value})")
        counts = self.counts
        # Anaplan's ignored count includes the failed rows (plus blank ones): do not add them up.
        rejected = max(counts.failed or 0, counts.ignored or 0)
        rows = f"{rejected} row(s) rejected (failed {counts.failed or 0}, ignored {counts.ignored or 0})"
        if outcome is TaskOutcome.SUCCESS:
            if not rejected or fail_on_partial is None:
                return TaskVerdict(outcome, True)
            if fail_on_partial:
                return TaskVerdict(outcome, False, f"{rows}; set fail_on_partial=False to accept partial loads")
            return TaskVerdict(outcome, True, rows, accepted_partial=True)
        if self.no_verdict:
            got = "no result" if self.result is None else f"result.successful={self.raw_successful!r}"
            return TaskVerdict(
                outcome,
                False,
                f"Anaplan gave no verdict ({got}): a COMPLETE task is only a success when Anaplan reports "
                "successful: true",
            )
        if fail_on_partial is False and (counts.successful or 0) > 0:
            return TaskVerdict(outcome, True, f"{counts.successful} row(s) loaded, {rows}", accepted_partial=True)
        messages = self.result.messages(3) if self.result else []
        detail = f" ({'; '.join(messages)})" if messages else ""
        return TaskVerdict(outcome, False, f"Anaplan reported the task as not successful{detail}")

    @property
    def raw_successful(self) -> Any:
        """``result.successful`` exactly as Anaplan sent it (None when absent)."""
        result = self.raw.get("result")
        return result.get("successful") if isinstance(result, Mapping) else None

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
            if self.successful is None:
                parts.append("NOT successful (Anaplan gave no verdict)")
            else:
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
