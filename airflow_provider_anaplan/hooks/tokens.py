"""Where an Airflow deployment keeps the current token pair of a rotatable OAuth connection.

Rotatable Anaplan refresh tokens are single-use, and every component of a deployment (Celery or
Kubernetes workers on several machines, the triggerer, ``dag.test()``, the CLI) refreshes them. So the
current pair lives in one **Airflow Variable** per registration, which every one of them can read and
write on Airflow 3: workers and the triggerer through the Task SDK (the execution API; they have no
database access), scheduler-side processes and the CLI through the metadata database. The connection
itself (often an environment variable or a secrets backend, i.e. read-only) keeps the refresh token it
was registered with; that token is also the encryption key's source.

* Variable name: ``anaplan_oauth_token_state_<registration id>`` (a hash of client id and the
  registered token; ``token`` in the name makes Airflow hide the value in the UI and mask it in logs).
* Value: AES-256-GCM sealed JSON (see ``client/token_store.py``), readable only with the connection's
  client id, client secret and registered refresh token. Airflow additionally Fernet-encrypts Variable
  values at rest when a Fernet key is configured.
* When neither the Task SDK nor the database is reachable (a plain script, a test without Airflow), the
  state goes to a ``0600`` file under ``$AIRFLOW_HOME/anaplan/oauth-state/`` with a WARNING: the chain
  is then shared by the processes of this machine only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from airflow_provider_anaplan.client.token_store import (
    FileRawStore,
    RawStore,
    SealedTokenStore,
    registration_id,
)

__all__ = [
    "VARIABLE_PREFIX",
    "AirflowVariableStore",
    "build_token_store",
    "database_unusable",
    "db_available",
    "forget_cached",
    "state_file",
    "task_sdk_available",
    "variable_key",
]

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "anaplan_oauth_token_state_"


def variable_key(client_id: str, origin_refresh_token: str) -> str:
    """The Airflow Variable holding the state of one registration."""
    return VARIABLE_PREFIX + registration_id(client_id, origin_refresh_token)


def state_file(key: str) -> Path:
    """The local fallback file for ``key`` (when no Airflow Variable can be used)."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return Path(home) / "anaplan" / "oauth-state" / f"{key}.json"


def task_sdk_available() -> bool:
    """Whether this process talks to Airflow through the Task SDK (worker, triggerer, dag.test)."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover - Task SDK always present on Airflow 3
        return False
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def database_unusable(exc: BaseException) -> bool:
    """Whether ``exc`` says the metadata database cannot be used here (not migrated, unreachable)."""
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, SQLAlchemyError)


def db_available() -> bool:
    try:
        from airflow import settings
    except ImportError:  # pragma: no cover
        return False
    factory = getattr(settings, "Session", None)
    return factory is not None and getattr(factory, "__name__", "") != "BlockedDBSession"


class AirflowVariableStore:
    """A :class:`~airflow_provider_anaplan.client.token_store.RawStore` in one Airflow Variable.

    Each call picks the way this process can reach Variables: the Task SDK, else the metadata
    database, else the local fallback file (with a warning, once).
    """

    def __init__(self, key: str, conn_id: str) -> None:
        self.key = key
        self.conn_id = conn_id
        self.name = f"Airflow Variable {key!r}"
        self._file = FileRawStore(state_file(key))
        self._warned = False
        self._db_broken = False

    def _db_failed(self, exc: BaseException) -> None:
        if not database_unusable(exc):
            raise exc
        self._db_broken = True
        log.warning("The Airflow metadata database is not usable here (%s)", type(exc).__name__)

    def _route(self) -> str:
        if task_sdk_available():
            return "sdk"
        if db_available() and not self._db_broken:
            return "db"
        if not self._warned:
            self._warned = True
            log.warning(
                "No Airflow Variable access in this process: the rotating OAuth tokens of connection %r "
                "are kept in %s, shared only with processes on this machine",
                self.conn_id,
                self._file.path,
            )
        return "file"

    def read(self) -> str | None:
        route = self._route()
        if route == "sdk":
            from airflow.sdk import Variable

            forget_cached(self.key)
            value = Variable.get(self.key, default=None)
        elif route == "db":
            from airflow.models.variable import Variable as DbVariable

            try:
                value = DbVariable.get(self.key, default_var=None)
            except Exception as exc:
                self._db_failed(exc)
                return self.read()
        else:
            value = self._file.read()
        return value if isinstance(value, str) and value else None

    def write(self, value: str) -> None:
        route = self._route()
        description = (
            f"Current OAuth tokens of Anaplan connection {self.conn_id!r} (sealed; managed by the provider)"
        )
        if route == "sdk":
            from airflow.sdk import Variable

            Variable.set(self.key, value, description=description)
            forget_cached(self.key)
        elif route == "db":
            from airflow.models.variable import Variable as DbVariable

            try:
                DbVariable.set(self.key, value, description=description)
            except Exception as exc:
                self._db_failed(exc)
                self.write(value)
        else:
            self._file.write(value)


def forget_cached(key: str) -> None:
    """Drop a Variable from the Task SDK's secrets cache (a stale token would lose the next race)."""
    try:
        from airflow.sdk.execution_time.cache import SecretCache

        SecretCache.invalidate_variable(key)
    except Exception:  # cache disabled or absent
        pass


def build_token_store(
    conn_id: str,
    client_id: str,
    origin_refresh_token: str,
    client_secret: str | None = None,
    raw: RawStore | None = None,
) -> SealedTokenStore:
    """The shared token store of an OAuth connection (an Airflow Variable unless ``raw`` is given)."""
    if raw is None:
        raw = AirflowVariableStore(variable_key(client_id, origin_refresh_token), conn_id)
    return SealedTokenStore(
        raw, client_id=client_id, origin_refresh_token=origin_refresh_token, client_secret=client_secret
    )
