"""CloudWorks runs as :class:`TaskStatus` objects, so THE outcome rule judges them like bulk tasks.

A run (``GET /integrations/run/{runId}``: ``success``, ``message``, ``executionErrorCode``,
``startDate``/``endDate``) maps onto the task model:

* no ``endDate`` yet, or a ``message`` of a run in flight (``Queued``, ``Running``...): NOT_STARTED
  (queued) or IN_PROGRESS — keep polling;
* ``message`` ``Cancelled``: CANCELLED;
* otherwise COMPLETE with ``successful`` = ``success``;
* **partial success** (``executionErrorCode`` 38, ``success`` true): COMPLETE, successful, with the
  rejected rows as failed row counts — taken from the run's error records (``values`` pairs such as
  ``failedCount``), else from the numbers in ``message`` ("... 2 rows loaded, 1 rows failed"), else
  at least 1 — so ``verdict(fail_on_partial=True)`` fails it and ``fail_on_partial=False`` accepts it
  (``accepted_partial``), never plain success.

Each action with errors becomes a nested result (``object_id`` = the action id, its row counts and
whether a failure dump was generated); ``raw`` keeps the run, its errors and where its dumps are.
Leaf module apart from ``status.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_anaplan.client.status import RowCounts, TaskResult, TaskState, TaskStatus

__all__ = ["PARTIAL_SUCCESS", "error_records", "run_state", "run_task_status"]

#: ``executionErrorCode`` of a run that loaded some rows and rejected others.
PARTIAL_SUCCESS = 38
_QUEUED = {"queued", "pending", "not started", "not_started", "waiting"}
_RUNNING = {"running", "in progress", "in_progress", "started", "processing", "cancelling"}
_FAILED_ROWS = re.compile(r"(\d+)\s+rows?\s+(?:failed|rejected)", re.IGNORECASE)
_LOADED_ROWS = re.compile(r"(\d+)\s+rows?\s+(?:loaded|succeeded|imported)", re.IGNORECASE)


def run_state(run: Mapping[str, Any]) -> TaskState:
    """The task state of a run (see the module docstring)."""
    message = str(run.get("message") or "").strip().lower()
    if message in _QUEUED:
        return TaskState.NOT_STARTED
    if message in _RUNNING or not run.get("endDate"):
        return TaskState.CANCELLING if message == "cancelling" else TaskState.IN_PROGRESS
    if message.startswith("cancel"):
        return TaskState.CANCELLED
    return TaskState.COMPLETE


def error_records(payload: Any) -> list[dict[str, Any]]:
    """The ``errorMessages`` entries of ``GET /integrations/runerror/{runId}`` (``runs`` may be ``{}``)."""
    runs = payload.get("runs") if isinstance(payload, Mapping) else None
    if isinstance(runs, Mapping):
        runs = [runs] if runs else []
    records: list[dict[str, Any]] = []
    for run in runs or []:
        if isinstance(run, Mapping):
            records.extend(dict(m) for m in run.get("errorMessages") or [] if isinstance(m, Mapping))
    return records


def _nested(records: Sequence[Mapping[str, Any]]) -> list[TaskResult]:
    results = []
    for record in records:
        details = [d for d in record.get("errorMessage") or [] if isinstance(d, Mapping)]
        results.append(
            TaskResult(
                object_id=str(record.get("actionId")) if record.get("actionId") is not None else None,
                successful=None,
                failure_dump_available=record.get("failureDumpGenerated") is True,
                details=list(details),
                counts=RowCounts.from_details(details),
            )
        )
    return results


def run_task_status(
    owner_id: str,
    run: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]] = (),
    *,
    extra: Mapping[str, Any] | None = None,
) -> TaskStatus:
    """A CloudWorks run (of integration or flow ``owner_id``) as a :class:`TaskStatus`.

    ``records``: the run's error records (:func:`error_records`), read once the run ended badly or
    partially. ``extra`` goes into ``raw`` (e.g. where the dumps are).
    """
    state = run_state(run)
    run_id = str(run.get("id") or "")
    message = str(run.get("message") or "")
    code = run.get("executionErrorCode")
    raw: dict[str, Any] = {"run": dict(run), "errors": [dict(r) for r in records], **(extra or {})}
    if state is not TaskState.COMPLETE and state is not TaskState.CANCELLED:
        return TaskStatus(run_id, owner_id, state, 0.0, message or None, raw=raw)
    success = run.get("success")
    successful = success if isinstance(success, bool) else None
    nested = _nested(records)
    counts = RowCounts()
    for result in nested:
        counts = counts + result.counts
    top = RowCounts()
    if code == PARTIAL_SUCCESS and successful and not max(counts.failed or 0, counts.ignored or 0):
        failed = sum(int(n) for n in _FAILED_ROWS.findall(message))
        loaded = sum(int(n) for n in _LOADED_ROWS.findall(message))
        top = RowCounts(successful=loaded or None, failed=max(failed, 1))
    details = [] if message.strip().lower() == "success" or not message else [{"localMessageText": message}]
    result = TaskResult(
        object_id=owner_id,
        successful=successful,
        failure_dump_available=any(r.failure_dump_available for r in nested),
        details=details,
        nested=nested,
        counts=top,
    )
    return TaskStatus(
        task_id=run_id,
        action_id=owner_id,
        state=state,
        progress=1.0,
        current_step=message or None,
        successful=successful,
        failure_dump_available=result.failure_dump_available,
        object_id=owner_id,
        details=details,
        nested=nested,
        raw=raw,
        result=result,
    )
