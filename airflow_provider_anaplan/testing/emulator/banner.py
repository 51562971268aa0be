"""What the emulator tells a person: the start-up banner of the CLI and the facts the home page shows.

Seed users, workspace and model ids, the URLs (auth, OAuth, bulk API, admin, device activation, the
model link a provider's ``AnaplanModelLink`` builds) and an Airflow connection pointing at them.
Passwords other than the default seed's public one are never printed, only described.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from .seed import DEMO_PASSWORD
from .state import EmulatorState, Model, User

_ANY_HOST = {"", "0.0.0.0", "::", "[::]"}


def base_url(scheme: str, host: str, port: int) -> str:
    """A URL a browser on this machine can open (a wildcard bind address becomes 127.0.0.1)."""
    if host in _ANY_HOST:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def model_link(root: str, workspace_id: str, model_id: str) -> str:
    """The browser URL of a model, as the provider builds it (``oauth_url`` + ``/anaplan/framework.jsp``)."""
    query = urlencode({"selectedWorkspaceId": workspace_id.lower(), "selectedModelId": model_id.upper()})
    return f"{root.rstrip('/')}/anaplan/framework.jsp?{query}"


def password_hint(user: User) -> str:
    """The seed's public password in full; any other only as a hint (never the value)."""
    if user.password == DEMO_PASSWORD:
        return DEMO_PASSWORD
    if not user.password:
        return "(none: basic auth refused)"
    return f"(set in the fixture, {len(user.password)} characters)"


def airflow_connection(root: str, user: User | None, model: Model | None) -> dict[str, Any]:
    """An ``anaplan`` Airflow connection (JSON form) for ``user`` and ``model`` on this emulator.

    The password is the seed's when the user has it, otherwise a placeholder.
    """
    root = root.rstrip("/")
    extra: dict[str, Any] = {"api_url": f"{root}/2/0", "auth_url": root, "oauth_url": root}
    if model is not None:
        extra.update(workspace_id=model.workspace_id, model_id=model.id)
    conn: dict[str, Any] = {"conn_type": "anaplan"}
    if user is not None:
        conn["login"] = user.email
        conn["password"] = DEMO_PASSWORD if user.password == DEMO_PASSWORD else "<password>"
    conn["extra"] = extra
    return conn


def urls(root: str, state: EmulatorState) -> list[tuple[str, str, str]]:
    """``(label, url, note)`` for every entry point."""
    root = root.rstrip("/")
    rows = [
        ("home page", f"{root}/", "all of this in a browser"),
        ("auth API", f"{root}/token/authenticate", f"connection extra auth_url = {root}"),
        ("OAuth", f"{root}/oauth/token", f"oauth_url = {root}; device codes at /oauth/device/code"),
        ("device activation", f"{root}/activate", "approve an OAuth device code in a browser"),
        ("bulk API v2", f"{root}/2/0", "connection extra api_url"),
        ("admin API", f"{root}/_emulator/health", "reset, counters, faults, ...: see docs/emulator.md"),
    ]
    for model in state.models.values():
        rows.append(("model link", model_link(root, model.workspace_id, model.id), model.name))
    return rows


def banner_lines(state: EmulatorState, root: str, listening: str | None = None) -> list[str]:
    """The start-up banner, one line per element (the first line says where it listens)."""
    where = f" (bound to {listening})" if listening else ""
    lines = [f"Anaplan emulator listening on {root}{where}; Ctrl-C stops it", "Seed"]
    for user in state.users.values():
        lines.append(f"  user               {user.email}   password: {password_hint(user)}")
    for workspace in state.workspaces.values():
        lines.append(f"  workspace          {workspace.id}   {workspace.name}")
    for model in state.models.values():
        lines.append(f"  model              {model.id}   {model.name} (workspace {model.workspace_id})")
    for client in state.security.oauth_clients.values():
        kind = "rotatable" if client.rotatable else "non-rotatable"
        secret = ", has a client secret" if client.client_secret else ""
        lines.append(f"  OAuth client       {client.client_id}   ({kind} refresh tokens{secret})")
    lines.append("URLs")
    for label, url, note in urls(root, state):
        lines.append(f"  {label:<18} {url}   ({note})")
    first_user = next(iter(state.users.values()), None)
    default_model = state.default_model() if state.models else None
    conn = json.dumps(airflow_connection(root, first_user, default_model))
    lines += [
        "Point an Airflow connection at it (connection id anaplan_default):",
        f"  export AIRFLOW_CONN_ANAPLAN_DEFAULT='{conn}'",
        "  or in the UI: connection type Anaplan, the login and password above, and the extras"
        " api_url, auth_url, oauth_url, workspace_id and model_id from that JSON.",
    ]
    return lines
