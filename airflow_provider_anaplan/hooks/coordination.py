"""The deployment-wide coordination store on Airflow Variables (start claims, file leases).

Every record is one Variable ``anaplan_coord_<scope hash>_<record id>`` holding a small JSON document
(action or file id, times, ``host:pid``; no secret). A scope is read with a key-prefix listing. Workers
and the triggerer reach Variables through the Task SDK, scheduler-side processes and the CLI through
the metadata database; a process with neither falls back to a directory under ``$AIRFLOW_HOME`` (one
machine). Records are deleted when done and expire by themselves (see ``client/coordination.py``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from airflow_provider_anaplan.client.coordination import DirectoryCoordination
from airflow_provider_anaplan.hooks.tokens import (
    database_unusable,
    db_available,
    forget_cached,
    task_sdk_available,
)

__all__ = ["COORDINATION_PREFIX", "AirflowVariableCoordination"]

log = logging.getLogger(__name__)

COORDINATION_PREFIX = "anaplan_coord_"
T = TypeVar("T")


def _prefix(scope: str) -> str:
    return f"{COORDINATION_PREFIX}{hashlib.sha256(scope.encode()).hexdigest()[:20]}_"


class AirflowVariableCoordination:
    """A :class:`~airflow_provider_anaplan.client.coordination.CoordinationStore` on Airflow Variables."""

    def __init__(self) -> None:
        self.name = "Airflow Variables"
        home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
        self._local = DirectoryCoordination(Path(home) / "anaplan" / "coordination")
        self._warned = False
        self._db_broken = False

    def _route(self) -> str:
        if task_sdk_available():
            return "sdk"
        if db_available() and not self._db_broken:
            return "db"
        if not self._warned:
            self._warned = True
            log.warning(
                "No Airflow Variable access in this process: Anaplan task starts and file leases are "
                "coordinated only with processes on this machine (%s)",
                self._local.root,
            )
        return "file"

    def _guard(self, func: Callable[[], T]) -> T:
        """Run a database-route call; if the database is not usable here, fall back to the directory."""
        try:
            return func()
        except Exception as exc:
            if self._route() != "db" or not database_unusable(exc):
                raise
            self._db_broken = True
            log.warning("The Airflow metadata database is not usable here (%s)", type(exc).__name__)
            return func()

    def put(self, scope: str, record_id: str, value: str) -> None:
        self._guard(lambda: self._put(scope, record_id, value))

    def scan(self, scope: str) -> dict[str, str]:
        return self._guard(lambda: self._scan(scope))

    def delete(self, scope: str, record_id: str) -> None:
        self._guard(lambda: self._delete(scope, record_id))

    def _put(self, scope: str, record_id: str, value: str) -> None:
        route = self._route()
        key = _prefix(scope) + record_id
        if route == "sdk":
            from airflow.sdk import Variable

            Variable.set(key, value, description=f"Anaplan provider coordination record ({scope})")
            forget_cached(key)
        elif route == "db":
            from airflow.models.variable import Variable as DbVariable

            DbVariable.set(key, value, description=f"Anaplan provider coordination record ({scope})")
        else:
            self._local.put(scope, record_id, value)

    def _scan(self, scope: str) -> dict[str, str]:
        route = self._route()
        prefix = _prefix(scope)
        if route == "file":
            return self._local.scan(scope)
        records: dict[str, str] = {}
        for key in _keys(route, prefix):
            value = _get(route, key)
            if isinstance(value, str) and value:
                records[key[len(prefix) :]] = value
        return records

    def _delete(self, scope: str, record_id: str) -> None:
        route = self._route()
        key = _prefix(scope) + record_id
        if route == "sdk":
            from airflow.sdk import Variable

            Variable.delete(key)
            forget_cached(key)
        elif route == "db":
            from airflow.models.variable import Variable as DbVariable

            DbVariable.delete(key)
        else:
            self._local.delete(scope, record_id)


def _keys(route: str, prefix: str) -> list[str]:
    if route == "sdk":
        from airflow.sdk import Variable

        return [str(k) for k in list(Variable.keys(prefix=prefix))]
    from airflow.models.variable import Variable as DbVariable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(DbVariable.key).where(DbVariable.key.startswith(prefix))))


def _get(route: str, key: str) -> str | None:
    if route == "sdk":
        from airflow.sdk import Variable

        forget_cached(key)
        return Variable.get(key, default=None)
    from airflow.models.variable import Variable as DbVariable

    return DbVariable.get(key, default_var=None)
