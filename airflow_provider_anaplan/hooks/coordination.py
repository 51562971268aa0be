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
from airflow_provider_anaplan.compat import coordination_by_variables
from airflow_provider_anaplan.hooks.variables import Route, VariableAccess

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
        self._access = VariableAccess("Anaplan task starts and file leases", str(self._local.root))

    def _guard(self, remote: Callable[[Route], T], local: Callable[[], T]) -> T:
        route = self._access.route()
        if route == "local" or not coordination_by_variables():  # Airflow < 3.3: one machine
            return local()
        try:
            return remote(route)
        except Exception as exc:
            self._access.failed(exc)  # re-raises unless the database is unusable here
            return self._guard(remote, local)

    def put(self, scope: str, record_id: str, value: str) -> None:
        description = f"Anaplan provider coordination record ({scope})"
        self._guard(
            lambda route: self._access.set(route, _prefix(scope) + record_id, value, description),
            lambda: self._local.put(scope, record_id, value),
        )

    def scan(self, scope: str) -> dict[str, str]:
        prefix = _prefix(scope)

        def remote(route: Route) -> dict[str, str]:
            records = {}
            for key in self._access.keys(route, prefix):
                value = self._access.get(route, key)
                if value:
                    records[key[len(prefix) :]] = value
            return records

        return self._guard(remote, lambda: self._local.scan(scope))

    def delete(self, scope: str, record_id: str) -> None:
        self._guard(
            lambda route: self._access.delete(route, _prefix(scope) + record_id),
            lambda: self._local.delete(scope, record_id),
        )
