"""A minimal task context for running an Anaplan operator's ``execute()`` outside a DAG run.

For unit tests of operator logic (the real thing is ``dag.test()``)::

    ctx = operator_context()
    result = AnaplanImportOperator(task_id="load", import_id="112000000000").execute(ctx)
    assert ctx["ti"].xcom["anaplan_task_id"]
"""

from __future__ import annotations

from typing import Any


class InMemoryTaskStateStore:
    """Stand-in for ``context["task_state_store"]`` (where operators keep the Anaplan task id)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class RecordingTaskInstance:
    """Stand-in for ``context["ti"]``: records what the operator pushes to XCom in ``xcom``."""

    dag_id, run_id, task_id, map_index, try_number = "dag", "run", "task", -1, 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def operator_context(store: InMemoryTaskStateStore | None = None) -> dict[str, Any]:
    """``{"ti", "task_state_store"}``: enough for the Anaplan operators' ``execute()``."""
    return {"ti": RecordingTaskInstance(), "task_state_store": store if store is not None else InMemoryTaskStateStore()}
