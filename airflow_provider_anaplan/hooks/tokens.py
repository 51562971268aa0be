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
from airflow_provider_anaplan.hooks.variables import VariableAccess

__all__ = ["VARIABLE_PREFIX", "AirflowVariableStore", "build_token_store", "state_file", "variable_key"]

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "anaplan_oauth_token_state_"


def variable_key(client_id: str, origin_refresh_token: str) -> str:
    """The Airflow Variable holding the state of one registration."""
    return VARIABLE_PREFIX + registration_id(client_id, origin_refresh_token)


def state_file(key: str) -> Path:
    """The local fallback file for ``key`` (when no Airflow Variable can be used)."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return Path(home) / "anaplan" / "oauth-state" / f"{key}.json"


class AirflowVariableStore:
    """A :class:`~airflow_provider_anaplan.client.token_store.RawStore` in one Airflow Variable
    (see :class:`~airflow_provider_anaplan.hooks.variables.VariableAccess` for how it is reached)."""

    def __init__(self, key: str, conn_id: str) -> None:
        self.key = key
        self.conn_id = conn_id
        self.name = f"Airflow Variable {key!r}"
        self._file = FileRawStore(state_file(key))
        self._access = VariableAccess(
            f"the rotating OAuth tokens of connection {conn_id!r}", str(self._file.path)
        )

    def read(self) -> str | None:
        route = self._access.route()
        if route == "local":
            return self._file.read() or None
        try:
            return self._access.get(route, self.key)
        except Exception as exc:
            self._access.failed(exc)
            return self.read()

    def write(self, value: str) -> None:
        route = self._access.route()
        if route == "local":
            self._file.write(value)
            return
        description = (
            f"Current OAuth tokens of Anaplan connection {self.conn_id!r} (sealed; managed by the provider)"
        )
        try:
            self._access.set(route, self.key, value, description)
        except Exception as exc:
            self._access.failed(exc)
            self.write(value)


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
