"""Browser pages: the home page (``/``), device activation (``/activate``) and the model link.

The OAuth device flow hands out ``verification_uri`` (``/activate``) and ``verification_uri_complete``
(``/activate?user_code=...``); the page there approves or denies a pending code with the same logic
as the admin API. The provider's ``AnaplanModelLink`` points at ``/anaplan/framework.jsp?
selectedWorkspaceId=...&selectedModelId=...`` on the ``oauth_url`` host; the page there shows the
model's lists, modules, files, actions and recent tasks. Plain HTML, every value escaped.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .auth import get_state
from .banner import airflow_connection, banner_lines, model_link, password_hint, urls
from .oauth import approve_device_code, pending_device_codes, read_params
from .state import EmulatorState, Model

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2733}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #c9d1da;padding:.25rem .6rem;text-align:left;
vertical-align:top}th{background:#eef2f6}code,pre{background:#f3f5f7;padding:.1rem .3rem}pre{padding:.6rem;
overflow-x:auto;white-space:pre-wrap}.ok{color:#17692f}.bad{color:#a3251c}.muted{color:#5f6b77}
form{margin:.8rem 0}input,select,button{font-size:1rem;padding:.25rem .5rem;margin-right:.4rem}
"""


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} - Anaplan emulator</title><style>{_STYLE}</style></head><body>"
        f"<p class='muted'><a href='/'>Anaplan emulator</a></p><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


class _Raw(str):
    """Already-escaped HTML for :func:`_table`."""


def _table(headers: Sequence[str] | None, rows: Iterable[Sequence[Any]], empty: str = "none") -> str:
    """A table of escaped cells (``_Raw`` cells are inserted as they are); no header row for ``None``."""
    body = "".join(
        "<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    if not body:
        return f"<p class='muted'>{escape(empty)}</p>"
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>" if headers else ""
    return f"<table>{head}{body}</table>"


def _link(url: str, text: str | None = None) -> _Raw:
    return _Raw(f"<a href='{escape(url, quote=True)}'>{escape(text or url)}</a>")


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def home(request: Request) -> Response:
    """``GET /``: the start-up banner's facts, with links."""
    state = get_state(request)
    root = _root(request)
    users = [(u.email, password_hint(u), u.id) for u in state.users.values()]
    models = [
        (m.id, m.name, m.workspace_id, m.active_state, _link(model_link(root, m.workspace_id, m.id), "open"))
        for m in state.models.values()
    ]
    clients = [
        (c.client_id, "rotatable" if c.rotatable else "non-rotatable", "yes" if c.client_secret else "no")
        for c in state.security.oauth_clients.values()
    ]
    entry_points = [(label, _link(url), note) for label, url, note in urls(root, state)]
    user = next(iter(state.users.values()), None)
    conn = airflow_connection(root, user, state.default_model() if state.models else None)
    body = (
        "<h2>Users</h2>"
        + _table(["email", "password", "user id"], users)
        + "<h2>Models</h2>"
        + _table(["model id", "name", "workspace id", "state", "model link"], models)
        + "<h2>OAuth clients (device grant)</h2>"
        + _table(["client id", "refresh tokens", "client secret"], clients)
        + "<h2>URLs</h2>"
        + _table(["what", "URL", "note"], entry_points)
        + "<h2>Airflow connection</h2><pre>export AIRFLOW_CONN_ANAPLAN_DEFAULT='"
        + escape(json.dumps(conn))
        + "'</pre><h2>Start-up banner</h2><pre>"
        + escape("\n".join(banner_lines(state, root)))
        + "</pre>"
    )
    return _page("Anaplan emulator", body)


def _activation_form(state: EmulatorState, user_code: str = "") -> str:
    options = "".join(
        f"<option value='{escape(u.email, quote=True)}'>{escape(u.email)}</option>"
        for u in state.users.values()
    )
    return (
        "<form method='post' action='/activate'>"
        "<label>Code <input name='user_code' required autocomplete='off' placeholder='ABCD-EFGH' "
        f"value='{escape(user_code, quote=True)}'></label>"
        f"<label>as <select name='user'>{options}</select></label>"
        "<button name='action' value='approve' type='submit'>Approve</button>"
        "<button name='action' value='deny' type='submit'>Deny</button></form>"
    )


def _pending_table(state: EmulatorState) -> str:
    now = time.time()
    rows = [
        (
            _link(f"/activate?user_code={quote(c.user_code)}", c.user_code),
            c.client_id,
            c.scope,
            f"{max(0, int(c.expires_at - now))} s",
        )
        for c in pending_device_codes(state)
    ]
    return "<h2>Pending requests</h2>" + _table(
        ["code", "client", "scope", "expires in"], rows, "No device authorization is waiting."
    )


async def activate(request: Request) -> Response:
    """``GET /activate[?user_code=...]``: the device-activation page (approve or deny a code)."""
    state = get_state(request)
    user_code = request.query_params.get("user_code", "").strip().upper()
    intro = (
        "<p>An application asked to connect to Anaplan with the OAuth device flow. Enter the code it shows"
        " (or follow its link), then approve or deny. The application receives its tokens on its next poll"
        " of <code>/oauth/token</code>.</p>"
    )
    if user_code:
        match = next((c for c in state.security.device_codes.values() if c.user_code == user_code), None)
        if match is None:
            intro += f"<p class='bad'>No device authorization has the code {escape(user_code)}.</p>"
        elif match.used or match.denied or match.approved_user is not None:
            intro += f"<p class='muted'>The code {escape(user_code)} has already been answered.</p>"
        elif time.time() >= match.expires_at:
            intro += f"<p class='bad'>The code {escape(user_code)} has expired; start again.</p>"
        else:
            intro += (
                f"<p>Client <code>{escape(match.client_id)}</code> asks for <code>{escape(match.scope)}</code>;"
                f" the code expires {_when(match.expires_at)}.</p>"
            )
    return _page("Activate a device", intro + _activation_form(state, user_code) + _pending_table(state))


async def activate_submit(request: Request) -> Response:
    """``POST /activate`` (form ``user_code``, ``user``, ``action=approve|deny``)."""
    state = get_state(request)
    params = await read_params(request)
    user_code = params.get("user_code", "").strip().upper()
    if not user_code:
        return _page("Activate a device", "<p class='bad'>Enter a code.</p>" + _activation_form(state), 400)
    deny = params.get("action", "approve").lower() == "deny"
    status, answer = approve_device_code(state, user_code, params.get("user") or None, deny)
    if status != 200:
        message = f"<p class='bad'>Not done: {escape(str(answer.get('error')))}.</p>"
        return _page("Activate a device", message + _activation_form(state, user_code), status)
    verb = "denied" if deny else "approved"
    message = f"<p class='ok'>Code {escape(user_code)} {verb} as {escape(str(answer['user']))}.</p>" + (
        "<p>The application gets <code>access_denied</code> on its next poll.</p>"
        if deny
        else "<p>You can close this page: the application receives its tokens on its next poll.</p>"
    )
    return _page(f"Device {verb}", message + _pending_table(state))


def _find_model(state: EmulatorState, workspace_id: str, model_id: str) -> Model | None:
    model = state.models.get(model_id.upper())
    if model is None or (workspace_id and model.workspace_id != workspace_id.lower()):
        return None
    return model


def _models_table(state: EmulatorState, root: str) -> str:
    return _table(
        ["model", "name", "workspace"],
        (
            (_link(model_link(root, m.workspace_id, m.id), m.id), m.name, m.workspace_id)
            for m in state.models.values()
        ),
    )


def _model_body(state: EmulatorState, model: Model, root: str) -> str:
    workspace = state.workspaces.get(model.workspace_id)
    api = f"{root}/2/0/workspaces/{model.workspace_id}/models/{model.id}"
    facts = _table(
        None,
        [
            ("model id", model.id),
            ("workspace", f"{model.workspace_id} ({workspace.name if workspace else '?'})"),
            ("state", model.active_state),
            ("bulk API", api),
        ],
    )
    lists = _table(
        ["id", "name", "members", "properties", "first members"],
        (
            (
                _link(f"/_emulator/lists/{lst.id}?model={model.id}", lst.id),
                lst.name,
                len(lst.items),
                ", ".join(f"{k} ({v})" for k, v in lst.properties.items()),
                ", ".join(list(lst.items)[:10]) + (" ..." if len(lst.items) > 10 else ""),
            )
            for lst in model.lists.values()
        ),
    )
    modules = _table(
        ["id", "name", "dimensions", "line item", "cells"],
        (
            (
                _link(f"/_emulator/modules/{mod.id}?model={model.id}", mod.id),
                mod.name,
                " x ".join(d.name for d in mod.dimensions),
                f"{mod.line_item} ({mod.data_type})",
                len(mod.cells),
            )
            for mod in model.modules.values()
        ),
    )
    files = _table(
        ["id", "name", "bytes", "chunks"],
        (
            (
                _link(f"/_emulator/files/{f.id}?model={model.id}", f.id) if len(f.content) else f.id,
                f.name,
                f.content.total_size,
                len(f.content),
            )
            for f in model.files.values()
        ),
    )
    actions = _table(
        ["id", "kind", "name", "what"],
        [
            *(
                (i.id, "import", i.name, f"file {i.file_id} -> {i.target_kind} {i.target_id}")
                for i in model.imports.values()
            ),
            *((e.id, "export", e.name, f"{e.source_kind} {e.source_id}") for e in model.exports.values()),
            *(
                (a.id, "action", a.name, f"delete from list {a.list_id} where {a.where}")
                for a in model.actions.values()
            ),
            *((p.id, "process", p.name, " then ".join(p.actions)) for p in model.processes.values()),
        ],
    )
    tasks = sorted((t for ts in model.tasks.values() for t in ts), key=lambda t: t.created_ms, reverse=True)
    task_rows = (
        (
            _when(t.created_ms / 1000),
            f"{t.kind} {t.action_id} ({model.object_name(t.action_id)})",
            t.id,
            t.state,
            f"{t.progress:.0%}",
            "" if not t.result else ("yes" if t.result.get("successful") else "no"),
        )
        for t in tasks[:25]
    )
    return (
        facts
        + "<h2>Lists</h2>"
        + lists
        + "<h2>Modules</h2>"
        + modules
        + "<h2>Files</h2>"
        + files
        + "<h2>Imports, exports, actions and processes</h2>"
        + actions
        + "<h2>Recent tasks</h2>"
        + _table(
            ["created", "action", "task id", "state", "progress", "successful"],
            task_rows,
            "No task has run yet.",
        )
    )


async def model_page(request: Request) -> Response:
    """``GET /anaplan/framework.jsp?selectedWorkspaceId=..&selectedModelId=..`` (and the ``modelUrl``
    of ``GET /models/{id}``): what the model holds."""
    state = get_state(request)
    root = _root(request)
    model_id = request.path_params.get("modelId") or request.query_params.get("selectedModelId", "")
    workspace_id = request.query_params.get("selectedWorkspaceId", "")
    model = _find_model(state, workspace_id, model_id) if model_id else None
    if model is None:
        wanted = f"model {model_id or '(none given)'}" + (
            f" in workspace {workspace_id}" if workspace_id else ""
        )
        body = f"<p class='bad'>This emulator has no {escape(wanted)}.</p><h2>Models</h2>" + _models_table(
            state, root
        )
        return _page("Model not found", body, 404)
    intro = (
        "<p class='muted'>The emulator's stand-in for the model in Anaplan's web app: what the model"
        " holds now. The ids link to the admin API's JSON.</p>"
    )
    return _page(model.name, intro + _model_body(state, model, root))


def page_routes() -> list[Route]:
    """The browser pages (counted and faultable like every non-admin route)."""
    return [
        Route("/", home, methods=["GET"]),
        Route("/activate", activate, methods=["GET"]),
        Route("/activate", activate_submit, methods=["POST"]),
        Route("/anaplan/framework.jsp", model_page, methods=["GET"]),
        Route("/a/springboard-platform-gateway-service/model/{modelId}", model_page, methods=["GET"]),
    ]
