"""Bulk API v2 tasks: create (imports/exports/actions/processes), list, status, cancel, dumps."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from .auth import require_user
from .bulk_meta import check_writable, resolve_model
from .responses import ApiError, envelope, json_response, paged
from .state import Dump, Model, Task

# path segment -> (path parameter, task kind, model table attribute, label)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "imports": ("importId", "import", "imports", "Import"),
    "exports": ("exportId", "export", "exports", "Export"),
    "actions": ("actionId", "action", "actions", "Action"),
    "processes": ("processId", "process", "processes", "Process"),
}


def _segment(request: Request) -> str:
    for segment in KINDS:
        if f"/{segment}/" in request.url.path:
            return segment
    raise ApiError(404, "Unknown action type")


def _action(request: Request, model: Model) -> tuple[str, str]:
    """(action id, task kind) after checking the action exists in the model."""
    param, kind, table, label = KINDS[_segment(request)]
    action_id = request.path_params[param]
    if action_id not in getattr(model, table):
        raise ApiError(404, f"{label} {action_id} not found or no access")
    return action_id, kind


def _mapping(body: dict[str, Any]) -> dict[str, str]:
    raw = body.get("mappingParameters")
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ApiError(400, "mappingParameters must be a list of {entityType, entityName}")
    result: dict[str, str] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not entry.get("entityType") or "entityName" not in entry:
            raise ApiError(400, "Each mapping parameter needs entityType and entityName")
        result[str(entry["entityType"])] = str(entry["entityName"])
    return result


async def create_task(request: Request) -> Response:
    """``POST .../{imports|exports|actions|processes}/{id}/tasks`` ``{"localeName", "mappingParameters"?}``."""
    state, model = resolve_model(request)
    user = require_user(request)
    action_id, kind = _action(request, model)
    check_writable(model)
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict) or not body.get("localeName"):
        raise ApiError(400, 'The body must hold "localeName" (for example {"localeName": "en_US"})')
    mapping = _mapping(body)
    engine = request.app.state.emulator.engine
    if engine.pending(model) >= state.config.max_queued_tasks:
        raise ApiError(409, f"Model {model.id} is busy: too many queued tasks")
    task = Task(
        id=uuid.uuid4().hex.upper(),
        action_id=action_id,
        kind=kind,
        model_id=model.id,
        user_id=user.id,
        created_ms=int(time.time() * 1000),
        locale=str(body["localeName"]),
        mapping=mapping,
    )
    model.tasks.setdefault(action_id, []).append(task)
    state.counters.task_created(action_id, task.id, mapping, task.created_ms, user.id)
    engine.submit(model, task)
    return json_response(envelope(request, model.id, "task", task=task.to_list_api()))


async def list_tasks(request: Request) -> Response:
    """Task list: 200 with an empty list for an unknown parent (as Anaplan does)."""
    state, model = resolve_model(request)
    param = KINDS[_segment(request)][0]
    tasks = model.tasks.get(request.path_params[param], [])
    items = [t.to_list_api() for t in tasks]
    sort = request.query_params.get("sort", "")
    field = sort.lstrip("+-")
    if field in ("creationDate", "creationTime", "taskId", "taskState"):
        key = {"creationDate": "creationTime"}.get(field, field)
        items.sort(key=lambda t: t[key], reverse=sort.startswith("-"))
    return paged(request, state, items, "tasks", model.id, "task")


def _task(request: Request, model: Model) -> Task:
    action_id, _ = _action(request, model)
    task_id = request.path_params["taskId"]
    for task in model.tasks.get(action_id, []):
        if task.id == task_id:
            return task
    raise ApiError(404, f"Task {task_id} not found for {action_id}")


async def get_task(request: Request) -> Response:
    _, model = resolve_model(request)
    task = _task(request, model)
    return json_response(envelope(request, model.id, "task", task=task.to_api()))


async def cancel_task(request: Request) -> Response:
    """``DELETE .../tasks/{taskId}``: CANCELLING then CANCELLED (no-op on a finished task)."""
    _, model = resolve_model(request)
    task = _task(request, model)
    request.app.state.emulator.engine.cancel(model, task)
    return json_response(envelope(request, model.id, "task", task=task.to_api()))


# ---------------------------------------------------------------------- dumps
def _dump(request: Request, model: Model, task: Task, object_id: str) -> Dump | None:
    state = request.app.state.emulator.state
    dump = model.dumps.get((task.action_id, object_id))
    if dump is None or dump.task_id != task.id:
        return None
    if time.time() - dump.created > state.config.dump_ttl_seconds:
        model.dumps.pop((task.action_id, object_id), None)
        return None
    return dump


def _dump_or_error(request: Request, model: Model, task: Task, object_id: str) -> Dump:
    dump = _dump(request, model, task, object_id)
    if dump is None:
        if not task.terminal:
            raise ApiError(404, f"Task {task.id} has not finished; no dump yet")
        raise ApiError(
            404, f"No failure dump for task {task.id} (none produced, replaced by a newer task or expired)"
        )
    return dump


async def import_dump(request: Request) -> Response:
    """``GET imports/{id}/tasks/{t}/dump``: text/plain; 204 if the task had no failures."""
    _, model = resolve_model(request)
    task = _task(request, model)
    if task.terminal and task.result is not None and not task.result.get("failureDumpAvailable"):
        return Response(status_code=204)
    dump = _dump_or_error(request, model, task, task.action_id)
    data = await anyio.to_thread.run_sync(dump.content.read_all)
    return Response(data, media_type="text/plain")


def _dump_chunks(request: Request, dump: Dump, model: Model) -> Response:
    state = request.app.state.emulator.state
    items = [{"id": str(i), "name": f"Chunk {i}"} for i in dump.content.indices()]
    return paged(request, state, items, "chunks", model.id, "chunk")


def _dump_chunk(request: Request, dump: Dump) -> Response:
    raw = request.path_params["chunkId"]
    if not raw.isdigit() or int(raw) not in dump.content:
        raise ApiError(404, f"Dump chunk {raw} not found")
    return Response(dump.content.get(int(raw)), media_type="text/plain")


async def import_dump_chunks(request: Request) -> Response:
    _, model = resolve_model(request)
    task = _task(request, model)
    return _dump_chunks(request, _dump_or_error(request, model, task, task.action_id), model)


async def import_dump_chunk(request: Request) -> Response:
    _, model = resolve_model(request)
    task = _task(request, model)
    return _dump_chunk(request, _dump_or_error(request, model, task, task.action_id))


def _process_object(request: Request, model: Model, task: Task) -> str:
    object_id = request.path_params["objectId"]
    process = model.processes[task.action_id]
    if object_id not in process.actions:
        raise ApiError(404, f"{object_id} is not a step of process {process.id}")
    return object_id


async def process_dump(request: Request) -> Response:
    """``GET processes/{id}/tasks/{t}/dumps/{objectId}``: text/plain (404 when none)."""
    _, model = resolve_model(request)
    task = _task(request, model)
    dump = _dump_or_error(request, model, task, _process_object(request, model, task))
    data = await anyio.to_thread.run_sync(dump.content.read_all)
    return Response(data, media_type="text/plain")


async def process_dump_chunks(request: Request) -> Response:
    _, model = resolve_model(request)
    task = _task(request, model)
    return _dump_chunks(
        request, _dump_or_error(request, model, task, _process_object(request, model, task)), model
    )


async def process_dump_chunk(request: Request) -> Response:
    _, model = resolve_model(request)
    task = _task(request, model)
    return _dump_chunk(request, _dump_or_error(request, model, task, _process_object(request, model, task)))
