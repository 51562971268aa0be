"""Bulk API v2: users, workspaces, models and model object metadata (imports, exports, ...)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import get_state, require_user
from .responses import ApiError, base_url, envelope, json_response, paged
from .state import EmulatorState, Model


def resolve_model(request: Request) -> tuple[EmulatorState, Model]:
    """Authenticate, then find the model of ``{workspaceId}``/``{modelId}`` (case-sensitive, else 404)."""
    require_user(request)
    state = get_state(request)
    params = request.path_params
    model_id = params["modelId"]
    model = state.models.get(model_id)
    if model is None:
        hint = " (model ids are upper case)" if model_id.upper() in state.models else ""
        raise ApiError(404, f"Model {model_id} not found or no access{hint}")
    workspace_id = params.get("workspaceId")
    if workspace_id is not None and workspace_id != model.workspace_id:
        hint = " (workspace ids are lower case)" if workspace_id.lower() == model.workspace_id else ""
        raise ApiError(404, f"Workspace {workspace_id} not found or no access{hint}")
    if model.active_state == "ARCHIVED":
        raise ApiError(422, f"Model {model_id} is archived")
    return state, model


def check_writable(model: Model) -> None:
    """423 when the model is locked or in maintenance."""
    if model.active_state in ("LOCKED", "MAINTENANCE", "PRODUCTION_MAINTENANCE"):
        raise ApiError(423, f"Model {model.id} is locked ({model.active_state}); try again later")


async def users_me(request: Request) -> Response:
    user = require_user(request)
    return json_response(envelope(request, None, "user", user=user.to_api()))


async def list_workspaces(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    items = [w.to_api() for w in state.workspaces.values()]
    return paged(request, state, items, "workspaces", None, "workspace")


async def get_workspace(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    ws_id = request.path_params["workspaceId"]
    workspace = state.workspaces.get(ws_id)
    if workspace is None:
        raise ApiError(404, f"Workspace {ws_id} not found or no access")
    return json_response(envelope(request, None, "workspace", workspace=workspace.to_api()))


def _model_api(request: Request, state: EmulatorState, model: Model) -> dict[str, Any]:
    workspace = state.workspaces.get(model.workspace_id)
    return model.to_api(workspace.name if workspace else "", base_url(request))


async def list_models(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    ws_id = request.path_params.get("workspaceId")
    if ws_id is not None and ws_id not in state.workspaces:
        raise ApiError(404, f"Workspace {ws_id} not found or no access")
    items = [
        _model_api(request, state, m)
        for m in state.models.values()
        if ws_id is None or m.workspace_id == ws_id
    ]
    return paged(request, state, items, "models", None, "model")


async def get_model(request: Request) -> Response:
    require_user(request)
    state = get_state(request)
    model_id = request.path_params["modelId"]
    model = state.models.get(model_id)
    if model is None:
        raise ApiError(404, f"Model {model_id} not found or no access")
    return json_response(envelope(request, None, "model", model=_model_api(request, state, model)))


async def model_status(request: Request) -> Response:
    """``GET /models/{modelId}/status``: bare ``requestStatus`` (no envelope)."""
    _, model = resolve_model(request)
    running = next(
        (t for ts in model.tasks.values() for t in ts if t.state in ("IN_PROGRESS", "CANCELLING")), None
    )
    if running is None:  # idle: the model's open state (Open / Closed / Loading, transactional_model.py)
        from .transactional_model import model_status_body

        return json_response(model_status_body(model))
    body = {
        "requestStatus": {
            "currentStep": running.current_step if running else "Open",
            "progress": running.progress if running else -1.0,
            "creationTime": int(time.time() * 1000),
            "taskId": running.id if running else None,
            "tooltip": None,
            "exportTaskType": None,
            "peakMemoryUsageEstimate": None,
            "peakMemoryUsageTime": None,
        }
    }
    return json_response(body)


def _source_api(fmt: Any, headers: list[str]) -> dict[str, Any]:
    return {
        "textEncoding": fmt.encoding,
        "columnSeparator": fmt.separator,
        "textDelimiter": fmt.delimiter,
        "headerRow": fmt.header_row,
        "firstDataRow": fmt.first_data_row,
        "decimalSeparator": ".",
        "headerNames": headers,
        "columnCount": len(headers),
    }


def _import_api(model: Model, import_id: str) -> dict[str, Any]:
    imp = model.imports[import_id]
    return {
        "id": imp.id,
        "name": imp.name,
        "importDataSourceId": imp.file_id,
        "importType": "HIERARCHY_DATA" if imp.target_kind == "list" else "MODULE_DATA",
    }


def _export_api(model: Model, export_id: str) -> dict[str, Any]:
    exp = model.exports[export_id]
    return {
        "id": exp.id,
        "name": exp.name,
        "exportType": "TABULAR_MULTI_COLUMN",
        "exportFormat": "text/csv",
        "encoding": exp.format.encoding,
        "layout": "TABULAR_MULTI_COLUMN",
    }


async def list_imports(request: Request) -> Response:
    state, model = resolve_model(request)
    items = [_import_api(model, i) for i in model.imports]
    return paged(request, state, items, "imports", model.id, "import")


async def get_import(request: Request) -> Response:
    _, model = resolve_model(request)
    import_id = request.path_params["importId"]
    imp = model.imports.get(import_id)
    if imp is None:
        raise ApiError(404, f"Import {import_id} not found or no access")
    meta = {"name": imp.name, "type": "FILE", "source": _source_api(imp.source, list(imp.columns))}
    return json_response(envelope(request, model.id, "importMetadata", importMetadata=meta))


async def list_exports(request: Request) -> Response:
    state, model = resolve_model(request)
    items = [_export_api(model, e) for e in model.exports]
    return paged(request, state, items, "exports", model.id, "export")


async def get_export(request: Request) -> Response:
    _, model = resolve_model(request)
    export_id = request.path_params["exportId"]
    exp = model.exports.get(export_id)
    if exp is None:
        raise ApiError(404, f"Export {export_id} not found or no access")
    if exp.source_kind == "module":
        module = model.modules[exp.source_id]
        types = ["NUMBER" if f == "value" else "ENTITY" for f in exp.columns.values()]
        rows = sum(1 for k in module.cells if all(k[module.dim_index(d)] == v for d, v in exp.filter.items()))
    else:
        lst = model.lists[exp.source_id]
        types = [
            "ENTITY"
            if f == "name"
            else {"boolean": "BOOLEAN", "number": "NUMBER"}.get(lst.properties.get(f, ""), "TEXT")
            for f in exp.columns.values()
        ]
        rows = len(lst.items)
    meta = {
        "columnCount": len(exp.columns),
        "dataTypes": types,
        "delimiter": exp.format.delimiter,
        "encoding": exp.format.encoding,
        "exportFormat": "text/csv",
        "headerNames": list(exp.columns),
        "listNames": ["" for _ in exp.columns],
        "rowCount": rows,
        "separator": exp.format.separator,
        "layout": "TABULAR_MULTI_COLUMN",
    }
    return json_response(envelope(request, model.id, "exportMetadata", exportMetadata=meta))


def _action_api(model: Model, action_id: str) -> dict[str, Any]:
    action = model.actions[action_id]
    return {"id": action.id, "name": action.name, "actionType": action.action_type}


async def list_actions(request: Request) -> Response:
    state, model = resolve_model(request)
    items = [_action_api(model, a) for a in model.actions]
    return paged(request, state, items, "actions", model.id, "action")


async def get_action(request: Request) -> Response:
    _, model = resolve_model(request)
    action_id = request.path_params["actionId"]
    if action_id not in model.actions:
        raise ApiError(404, f"Action {action_id} not found or no access")
    return json_response(envelope(request, model.id, "action", action=_action_api(model, action_id)))


async def list_processes(request: Request) -> Response:
    state, model = resolve_model(request)
    items = [{"id": p.id, "name": p.name} for p in model.processes.values()]
    return paged(request, state, items, "processes", model.id, "process")


async def get_process(request: Request) -> Response:
    _, model = resolve_model(request)
    process_id = request.path_params["processId"]
    process = model.processes.get(process_id)
    if process is None:
        raise ApiError(404, f"Process {process_id} not found or no access")
    actions: list[dict[str, Any]] = []
    for step in process.actions:
        if step in model.imports:
            imp = _import_api(model, step)
            actions.append(
                {
                    **imp,
                    "actionType": "IMPORT",
                    "importDataSource": {"importDataSourceId": imp["importDataSourceId"], "type": "FILE"},
                }
            )
        elif step in model.exports:
            actions.append({**_export_api(model, step), "actionType": "EXPORT"})
        else:
            actions.append(_action_api(model, step))
    meta = {"id": process.id, "name": process.name, "actions": actions}
    return json_response(envelope(request, model.id, "process", processMetadata=meta))
