"""Persistence of rotated OAuth refresh tokens.

Rotatable Anaplan refresh tokens are single-use: after a refresh the old one is dead, so the new one
must be stored before the process ends.

1. When this process can reach the metadata database (``dag.test()``, the CLI, a scheduler-side
   process) and the connection is stored there, the ``refresh_token`` extra is updated in place.
2. Otherwise (Airflow 3 workers and triggerers have no database access; connections from environment
   variables or a secrets backend are read-only) the token is written to a ``0600`` file under
   ``$AIRFLOW_HOME/anaplan/tokens/<conn_id>.json`` together with a SHA-256 digest of the connection's
   token it replaces, and a WARNING tells the user to store it. The next hook built from the same (now
   dead) connection token on this machine picks the newer token up from that file; a connection that
   was re-registered (different token) ignores it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from airflow_provider_anaplan.hooks.connection import mask

log = logging.getLogger(__name__)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_file(conn_id: str) -> Path:
    """Where the rotated token of ``conn_id`` is kept when the connection cannot be updated."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in conn_id)
    return Path(home) / "anaplan" / "tokens" / f"{safe}.json"


def current_refresh_token(conn_id: str, connection_token: str) -> str:
    """The newest refresh token descending from ``connection_token`` known on this machine."""
    path = token_file(conn_id)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return connection_token
    if data.get("origin") == _digest(connection_token) and isinstance(data.get("refresh_token"), str):
        token = data["refresh_token"]
        mask(token, "refresh_token")
        log.info("Using the rotated Anaplan refresh token of connection %r from %s", conn_id, path)
        return token
    return connection_token


def _save_file(conn_id: str, origin_token: str, new_token: str) -> Path:
    path = token_file(conn_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"origin": _digest(origin_token), "refresh_token": new_token}, handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _save_to_db(conn_id: str, new_token: str) -> str | None:
    """Update the connection row; return None on success or the reason it was not possible."""
    try:
        from airflow import settings

        session_factory = getattr(settings, "Session", None)
        if session_factory is None or getattr(session_factory, "__name__", "") == "BlockedDBSession":
            return "this process has no metadata-database access (Airflow 3 worker or triggerer)"
        from airflow.models.connection import Connection
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            row = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
            if row is None:
                return "the connection is not stored in the metadata database (environment variable or secrets backend)"
            extra = row.extra_dejson
            extra["refresh_token"] = new_token
            row.set_extra(json.dumps(extra))
        return None
    except Exception as exc:  # never fail a task because persistence failed
        log.debug("Updating connection %r failed", conn_id, exc_info=True)
        return f"updating the metadata database failed ({type(exc).__name__})"


def persist_refresh_token(conn_id: str, origin_token: str, new_token: str) -> bool:
    """Store ``new_token`` (which replaced ``origin_token``'s descendant); True if saved in the DB."""
    mask(new_token, "refresh_token")
    reason = _save_to_db(conn_id, new_token)
    if reason is None:
        log.info("Stored the rotated Anaplan OAuth refresh token in connection %r", conn_id)
        return True
    try:
        where = f"it was saved to {_save_file(conn_id, origin_token, new_token)} (mode 0600) on this machine"
    except OSError as exc:
        where = f"it could not be saved locally either ({exc.strerror})"
    log.warning(
        "The Anaplan OAuth refresh token of connection %r rotated and the connection could not be "
        "updated: %s. The previous refresh token is now invalid; %s. Store the new token in the "
        "connection's 'refresh_token' extra (or run `airflow-anaplan oauth-register` again), or use a "
        "non-rotatable refresh token for connections kept in environment variables or secrets backends.",
        conn_id,
        reason,
        where,
    )
    return False
