"""How a process of an Airflow deployment reads and writes Variables, whatever kind of process it is.

Workers, the triggerer and ``dag.test()`` talk to Airflow through the Task SDK (no database access on
Airflow 3); scheduler-side processes and the CLI reach the metadata database; a plain script may have
neither (or a database that is not migrated). :class:`VariableAccess` picks the way per call and, when
there is none, says so once and lets the caller fall back to a local file or directory.
"""

from __future__ import annotations

import logging
from typing import Literal

__all__ = ["VariableAccess", "task_sdk_available", "db_available"]

log = logging.getLogger(__name__)

Route = Literal["sdk", "db", "local"]


def task_sdk_available() -> bool:
    """Whether this process talks to Airflow through the Task SDK (worker, triggerer, dag.test)."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover - Task SDK always present on Airflow 3
        return False
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def db_available() -> bool:
    """Whether this process may use the metadata database (not an Airflow 3 worker or triggerer)."""
    try:
        from airflow import settings
    except ImportError:  # pragma: no cover
        return False
    factory = getattr(settings, "Session", None)
    return factory is not None and getattr(factory, "__name__", "") != "BlockedDBSession"


def _database_unusable(exc: BaseException) -> bool:
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, SQLAlchemyError)


def _forget_cached(key: str) -> None:
    """Drop a Variable from the Task SDK's secrets cache (a stale token would lose the next race)."""
    try:
        from airflow.sdk.execution_time.cache import SecretCache

        SecretCache.invalidate_variable(key)
    except Exception:  # cache disabled or absent
        pass


class VariableAccess:
    """Variables through the Task SDK, else the metadata database, else nothing (``route() == "local"``).

    :param what: what the Variables hold, for the one-time warning when there is no access.
    :param local: where the caller keeps things instead (named in that warning).
    """

    def __init__(self, what: str, local: str) -> None:
        self.what = what
        self.local = local
        self._db_broken = False
        self._warned = False

    def route(self) -> Route:
        if task_sdk_available():
            return "sdk"
        if db_available() and not self._db_broken:
            return "db"
        if not self._warned:
            self._warned = True
            log.warning(
                "No Airflow Variable access in this process: %s are kept in %s, shared only with "
                "processes on this machine",
                self.what,
                self.local,
            )
        return "local"

    def failed(self, exc: BaseException) -> None:
        """A database call raised ``exc``: if the database is unusable here, stop using it; else re-raise."""
        if not _database_unusable(exc):
            raise exc
        self._db_broken = True
        log.warning("The Airflow metadata database is not usable here (%s)", type(exc).__name__)

    def get(self, route: Route, key: str) -> str | None:
        if route == "sdk":
            from airflow.sdk import Variable

            _forget_cached(key)
            value = Variable.get(key, default=None)
        else:
            from airflow.models.variable import Variable as DbVariable

            value = DbVariable.get(key, default_var=None)
        return value if isinstance(value, str) and value else None

    def set(self, route: Route, key: str, value: str, description: str) -> None:
        if route == "sdk":
            from airflow_provider_anaplan.compat import sdk_variable_set  # raises on failure on every 3.x

            sdk_variable_set(key, value, description)
            _forget_cached(key)
        else:
            from airflow.models.variable import Variable as DbVariable

            DbVariable.set(key, value, description=description)

    def delete(self, route: Route, key: str) -> None:
        if route == "sdk":
            from airflow_provider_anaplan.compat import sdk_variable_delete  # raises on failure on every 3.x

            sdk_variable_delete(key)
            _forget_cached(key)
        else:
            from airflow.models.variable import Variable as DbVariable

            DbVariable.delete(key)

    def keys(self, route: Route, prefix: str) -> list[str]:
        if route == "sdk":
            from airflow.sdk import Variable

            return [str(k) for k in list(Variable.keys(prefix=prefix))]
        from airflow.models.variable import Variable as DbVariable
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            return list(session.scalars(select(DbVariable.key).where(DbVariable.key.startswith(prefix))))
