"""What differs between the Airflow 3.x releases the provider supports, in one place.

The provider supports Airflow **3.1** and later (see ``docs/compatibility.md``). Every version check and
every fallback lives here, so the rest of the code calls one name and reads the same on every release:

==========================================  =======  =====================================================
feature                                     since    below that
==========================================  =======  =====================================================
``context["task_state_store"]``             3.3      :class:`VariableTaskStateStore`: the same record in
                                                     one Airflow Variable per task instance
``Variable.keys(prefix=...)`` (Task SDK)    3.3      the coordination store keeps its records in a
                                                     directory: one machine (see :func:`variable_keys`)
``Variable.set/delete`` raise on failure    3.3      :func:`sdk_variable_set` / :func:`sdk_variable_delete`
                                                     call the Task SDK's raising internals
``BaseTrigger.on_kill``                     3.3      the trigger's ``cleanup()`` asks the task instance's
                                                     state and cancels when a user ended the task
``airflow.sdk.conf``, ``airflow.sdk.        3.2      ``airflow.configuration.conf``,
exceptions.TaskDeferred`` & co.                      ``airflow.exceptions``
``BaseHook.aget_connection``                3.1      (lower bound)
==========================================  =======  =====================================================

Importing this module is cheap (DAG files import the operators): the Airflow imports below are the ones
the operators make anyway, everything else is imported on first use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AIRFLOW_VERSION",
    "MIN_AIRFLOW",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "TaskDeferred",
    "TASK_STATE_PREFIX",
    "VariableTaskStateStore",
    "aget_connection",
    "conf",
    "has_task_state_store",
    "has_trigger_on_kill",
    "sdk_variable_delete",
    "sdk_variable_set",
    "task_instance_state",
    "task_state_store",
    "variable_keys",
]

log = logging.getLogger(__name__)

#: The lowest Airflow the provider supports (also pyproject's ``apache-airflow>=`` bound).
MIN_AIRFLOW = (3, 1)


def _version_tuple(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple((parts + [0, 0, 0])[:3])  # type: ignore[return-value]


def _airflow_version() -> tuple[int, int, int]:
    from airflow import __version__

    return _version_tuple(__version__)


#: ``(major, minor, patch)`` of the installed Airflow.
AIRFLOW_VERSION: tuple[int, int, int] = _airflow_version()

try:  # Airflow >= 3.2
    from airflow.sdk import conf
except ImportError:  # pragma: no cover - Airflow 3.1
    from airflow.configuration import conf  # type: ignore[assignment,no-redef]

try:  # Airflow >= 3.2 (importing the operators already loaded both modules)
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSensorTimeout, TaskDeferred
except ImportError:  # pragma: no cover - Airflow 3.1
    from airflow.exceptions import (  # type: ignore[assignment,no-redef]
        AirflowNotFoundException,
        AirflowSensorTimeout,
        TaskDeferred,
    )


# ------------------------------------------------------------------------------------------ features
@functools.cache
def has_task_state_store() -> bool:
    """Whether Airflow gives tasks ``context["task_state_store"]`` (3.3)."""
    try:
        from airflow.sdk.execution_time.comms import GetTaskStateStore  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def variable_keys() -> bool:
    """Whether the Task SDK lists Variables by key prefix (``Variable.keys(prefix=...)``, 3.3).

    The deployment-wide coordination store (start claims, file leases) reads a scope by prefix; below
    3.3 a worker or triggerer cannot, so the store is the local directory (one machine) instead.
    """
    from airflow.sdk import Variable

    return callable(getattr(Variable, "keys", None))


@functools.cache
def coordination_by_variables() -> bool:
    """Whether the coordination store can live in Airflow Variables (Airflow >= 3.3); warns once if not.

    Every process of the deployment must use the same store, and workers and the triggerer cannot list
    Variables by prefix before 3.3; so below it every process (scheduler side and CLI included) keeps
    the records in ``$AIRFLOW_HOME/anaplan/coordination``: shared by the processes of one machine.
    """
    if variable_keys():
        return True
    log.warning(
        "Airflow %s cannot list Variables from a task (Airflow >= 3.3 can): Anaplan task starts and file "
        "leases are coordinated between the processes of this machine only (a directory under "
        "$AIRFLOW_HOME), not across the deployment's machines; see docs/compatibility.md",
        ".".join(map(str, AIRFLOW_VERSION)),
    )
    return False


@functools.cache
def has_trigger_on_kill() -> bool:
    """Whether the triggerer calls ``BaseTrigger.on_kill()`` when a user ends a deferred task (3.3)."""
    from airflow.triggers.base import BaseTrigger

    return callable(getattr(BaseTrigger, "on_kill", None))


@functools.cache
def _sdk_variable_writes_raise() -> bool:
    """Task SDK >= 1.3 (Airflow 3.3): ``Variable.set``/``delete`` raise when the API server refuses.

    Before, they log the error and return, so a write that failed looks like one that worked.
    """
    try:
        from importlib.metadata import version

        return _version_tuple(version("apache-airflow-task-sdk")) >= (1, 3, 0)
    except Exception:  # pragma: no cover - metadata missing: decide by the core version
        return AIRFLOW_VERSION >= (3, 3, 0)


# -------------------------------------------------------------------------------- Task SDK Variables
def sdk_variable_set(key: str, value: str, description: str | None = None) -> None:
    """``Variable.set`` through the Task SDK, raising when the write failed (on every 3.x)."""
    if not _sdk_variable_writes_raise():
        from airflow.sdk.execution_time.context import _set_variable

        _set_variable(key, value, description)
        return
    from airflow.sdk import Variable

    Variable.set(key, value, description=description)


def sdk_variable_delete(key: str) -> None:
    """``Variable.delete`` through the Task SDK, raising when the delete failed (on every 3.x)."""
    if not _sdk_variable_writes_raise():
        from airflow.sdk.execution_time.context import _delete_variable

        _delete_variable(key)
        return
    from airflow.sdk import Variable

    Variable.delete(key)


# ------------------------------------------------------------------------------------------- hooks
async def aget_connection(hook: Any, conn_id: str) -> Any:
    """``await hook.aget_connection(conn_id)``, also where Airflow's own one cannot run.

    Airflow 3.1.0 to 3.1.x's ``aget_connection`` needs a supervisor (a worker or triggerer process)
    before it consults any secrets backend, so in a plain process (a trigger run in a unit test, a
    script) it fails with ``ImportError`` even for an ``AIRFLOW_CONN_*`` connection. Then the secrets
    backends are asked here the way later releases do (never the sync lookup on the event loop).
    """
    try:
        return await hook.aget_connection(conn_id)
    except ImportError:
        from airflow.sdk.execution_time import task_runner

        if getattr(task_runner, "SUPERVISOR_COMMS", None) is not None:
            raise
    from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded
    from asgiref.sync import sync_to_async

    for backend in ensure_secrets_backend_loaded():
        try:
            conn = await sync_to_async(backend.get_connection)(conn_id)
        except Exception:
            log.debug("Secrets backend %s failed for %s", type(backend).__name__, conn_id, exc_info=True)
            continue
        if conn:
            return conn
    raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")


# ------------------------------------------------------------------------------- task state store
#: Variables that stand in for the task state store below Airflow 3.3 (one per task instance).
TASK_STATE_PREFIX = "anaplan_task_state_"


class VariableTaskStateStore:
    """``context["task_state_store"]`` for Airflow < 3.3: Airflow Variables of one task instance.

    Each store key is one Variable whose name is derived from ``(dag_id, run_id, task_id, map_index)``
    (the identity that stays the same across tries) and the key; the value is JSON. Workers reach
    Variables through the Task SDK on every 3.x, so a retry on any machine reads what the previous try
    wrote — what the operators need to reattach instead of starting a second Anaplan task. The operators
    delete the record when the Anaplan task's outcome is final; the record of a task whose last try
    failed while the Anaplan task may still run stays until someone deletes the Variable (3.3's store is
    cleaned up with the DAG run instead).
    """

    def __init__(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> None:
        from airflow_provider_anaplan.hooks.variables import VariableAccess

        self._ident = [str(dag_id), str(run_id), str(task_id), int(map_index)]
        where = f"{dag_id}.{task_id}" + (f"[{map_index}]" if int(map_index) >= 0 else "")
        self.description = f"Anaplan provider: task record of {where} in run {run_id} (Airflow < 3.3)"
        self._access = VariableAccess("Anaplan task records", "nowhere (no reattach on retry)")

    def variable(self, key: str) -> str:
        """The Variable holding ``key``."""
        ident = json.dumps([*self._ident, str(key)])
        return TASK_STATE_PREFIX + hashlib.sha256(ident.encode()).hexdigest()[:32]

    def usable(self) -> bool:
        """Whether this process can reach Variables at all (a task always can)."""
        return self._access.route() != "local"

    def get(self, key: str, default: Any = None) -> Any:
        text = self._access.get(self._access.route(), self.variable(key))
        if not text:
            return default
        try:
            return json.loads(text)
        except ValueError:
            log.warning("Ignoring the unreadable Anaplan task record in Variable %s", self.variable(key))
            return default

    def set(self, key: str, value: Any, **_: Any) -> None:
        self._access.set(self._access.route(), self.variable(key), json.dumps(value), self.description)

    def delete(self, key: str) -> None:
        self._access.delete(self._access.route(), self.variable(key))


def task_state_store(context: Mapping[str, Any]) -> Any:
    """The task state store of ``context``: Airflow's (3.3), else a :class:`VariableTaskStateStore`
    for the context's task instance, else None (no task instance, or no Variable access here)."""
    store = context.get("task_state_store")
    if store is not None:
        return store
    ti = context.get("ti")
    ids = [getattr(ti, name, None) for name in ("dag_id", "run_id", "task_id")]
    if ti is None or not all(isinstance(i, str) and i for i in ids):
        return None
    map_index = getattr(ti, "map_index", -1)
    fallback = VariableTaskStateStore(*ids, map_index=map_index if isinstance(map_index, int) else -1)  # type: ignore[arg-type,misc]
    return fallback if fallback.usable() else None


# --------------------------------------------------------------------------------------- triggers
async def task_instance_state(trigger: Any) -> str | None:
    """State of the task instance a trigger runs for, asked from the triggerer (None: unknown).

    Used below Airflow 3.3, where a trigger cannot tell a user's kill (the task instance is no longer
    deferred) from a triggerer shutting down or handing the trigger over (it still is).
    """
    ti = getattr(trigger, "task_instance", None)
    dag_id, run_id, task_id = (getattr(ti, n, None) for n in ("dag_id", "run_id", "task_id"))
    if not (dag_id and run_id and task_id):
        return None
    map_index = getattr(ti, "map_index", -1)
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import GetTaskStates

        comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
        if comms is None:
            return None
        msg = GetTaskStates(dag_id=dag_id, run_ids=[run_id], task_ids=[task_id], map_index=map_index)
        asend = getattr(comms, "asend", None)
        if asend is not None:
            result = await asend(msg)
        else:  # pragma: no cover - older comms without asend
            import asyncio

            result = await asyncio.to_thread(comms.send, msg)
        states = getattr(result, "task_states", None) or {}
        by_task = states.get(run_id) or {}
        key = task_id if map_index is None or map_index < 0 else f"{task_id}_{map_index}"
        state = by_task.get(key, by_task.get(task_id))
        return None if state is None else str(getattr(state, "value", state))
    except Exception:
        log.debug("Could not read the state of the trigger's task instance", exc_info=True)
        return None
