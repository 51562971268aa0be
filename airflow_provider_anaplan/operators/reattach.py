"""What an operator keeps across Airflow tries so that a retry never starts a second Anaplan task.

One record in Airflow's task state store (key ``anaplan_task``)::

    {"action_id": "112…", "intent": StartIntent.to_dict() | None, "task_id": "…" | None,
     "leases": [{"scope", "id", "file_id"}, …]}

It is written **before** the task POST (the start intent: a later try can then resolve a start whose
answer was lost, through the same rule the client uses) and again once the task id is known. Reads and
writes are retried; a store that keeps failing fails the try instead of letting the next one start a
second task. Without a task state store (older Airflow) the record is skipped with a warning: a retry
can then only resolve a lost start through the coordination store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from airflow_provider_anaplan.exceptions import AnaplanError

__all__ = ["STATE_KEY", "TaskStateError", "read_state", "write_state"]

log = logging.getLogger(__name__)

#: task_state_store key of the record above (kept across retries).
STATE_KEY = "anaplan_task"
_ATTEMPTS = 5


class TaskStateError(AnaplanError):
    """Airflow's task state store kept failing; the try stops before it could start a second task."""


def _store(context: Mapping[str, Any]) -> Any:
    from airflow_provider_anaplan.compat import task_state_store  # Airflow < 3.3: Variables

    return task_state_store(context)


def _retrying(what: str, func: Any, *args: Any) -> Any:
    delay = 0.5
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return func(*args)
        except Exception as exc:
            if attempt == _ATTEMPTS:
                raise TaskStateError(
                    f"{what} in Airflow's task state store failed {_ATTEMPTS} times "
                    f"({type(exc).__name__}: {exc}); stopping this try so that a retry cannot start a "
                    "second Anaplan task"
                ) from exc
            log.warning("%s in the task state store failed (%s); retry %d/%d", what, exc, attempt, _ATTEMPTS - 1)
            time.sleep(delay)
            delay = min(5.0, delay * 2)
    return None  # pragma: no cover


def read_state(context: Mapping[str, Any], key: str = STATE_KEY) -> dict[str, Any] | None:
    """The record of a previous try, or None (none kept, or no task state store on this Airflow).

    ``key``: :data:`STATE_KEY` (bulk tasks) or ``operators.jobs.JOB_STATE_KEY`` (other job kinds).
    """
    store = _store(context)
    if store is None:
        return None
    saved = _retrying("Reading the Anaplan task record", store.get, key)
    return dict(saved) if isinstance(saved, Mapping) else None


def write_state(context: Mapping[str, Any], record: Mapping[str, Any] | None, key: str = STATE_KEY) -> bool:
    """Replace (or with None, delete) the record; False when there is no task state store."""
    store = _store(context)
    if store is None:
        if record is not None:
            log.warning(
                "No task state store (Airflow < 3.3): a retry of this task cannot reattach to its "
                "Anaplan task; it relies on the deployment's start records instead"
            )
        return False
    if record is None:
        _retrying("Deleting the Anaplan task record", store.delete, key)
    else:
        _retrying("Saving the Anaplan task record", store.set, key, dict(record))
    return True
