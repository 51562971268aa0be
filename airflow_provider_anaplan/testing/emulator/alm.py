"""ALM API of the emulator (revisions, sync tasks, comparison and summary reports, online status).

Shapes follow ``anaplan-openapi/alm/alm-openapi.json``; where the spec is silent the choice is
documented in ``docs/emulator.md`` ("ALM and CloudWorks").
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import alm_structure
from .auth import get_state, require_user
from .bulk_meta import resolve_model
from .responses import ApiError, base_url, envelope, json_response, paged
from .state import EmulatorState, Model
from .state.alm import AlmState, AlmTask, Revision, alm_state, iso_now

__all__ = ["alm_routes", "set_online"]

_ID = re.compile(r"^[0-9A-F]{32}$")
_MANDATORY = "Expected mandatory fields 'sourceRevisionId', 'sourceModelId' and 'targetRevisionId'"
OFFLINE = {"UNLOCKED": "MAINTENANCE", "PRODUCTION": "PRODUCTION_MAINTENANCE"}
ONLINE = {v: k for k, v in OFFLINE.items()}


# ---------------------------------------------------------------------- helpers
def _alm(request: Request) -> tuple[EmulatorState, AlmState]:
    state = get_state(request)
    alm = alm_state(state)
    _tick(state, alm)
    return state, alm


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def _revision_api(alm: AlmState, revision: Revision, model_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"id": revision.id, "name": revision.name}
    if revision.description:
        body["description"] = revision.description
    body.update(
        createdOn=revision.created_on, createdBy=revision.created_by, creationMethod=revision.creation_method
    )
    applied = alm.applied_on(revision.id, model_id)
    if applied is not None:
        body.update(appliedOn=applied.applied_on, appliedBy=applied.applied_by)
    return body


def syncable(alm: AlmState, target_id: str, source_id: str) -> list[Revision]:
    """Source revisions newer than the target's latest one, in the same lineage; newest first."""
    latest = alm.latest(target_id)
    source_history = alm.history.get(source_id, [])
    if latest is None or latest.id not in source_history or source_id == target_id:
        return []
    newer = source_history[source_history.index(latest.id) + 1 :]
    return [alm.revisions[r] for r in reversed(newer) if alm.revisions[r].source_model_id == source_id]


def _task_url(request: Request, task: AlmTask) -> str:
    segment = {"sync": "syncTasks", "comparison": "comparisonReportTasks", "summary": "summaryReportTasks"}
    return f"{base_url(request)}/2/0/models/{task.model_id}/alm/{segment[task.kind]}/{task.id}"


def _tick(state: EmulatorState, alm: AlmState) -> None:
    """Finish every task whose time has come (called on access and by a timer)."""
    now = time.monotonic()
    for task in alm.tasks.values():
        if task.state == "IN_PROGRESS" and now >= task.due:
            _complete(state, alm, task)


def _schedule(state: EmulatorState, alm: AlmState, delay: float) -> None:
    asyncio.get_running_loop().call_later(max(0.0, delay) + 0.005, _tick, state, alm)


def _fail(task: AlmTask, title: str, message: str) -> None:
    task.result = {
        "successful": False,
        "sourceRevisionId": task.source_revision_id,
        "targetRevisionId": task.target_revision_id,
        "error": {"title": title, "messageText": message},
    }


def _complete(state: EmulatorState, alm: AlmState, task: AlmTask) -> None:
    task.state = "COMPLETE"
    target = state.models.get(task.model_id)
    revision = alm.revisions.get(task.source_revision_id)
    if target is None or revision is None:
        _fail(task, "Model or revision gone", "The target model or the source revision no longer exists")
        return
    ids = {"sourceRevisionId": task.source_revision_id, "targetRevisionId": task.target_revision_id}
    if task.kind == "sync":
        if target.active_state in ("LOCKED", "ARCHIVED"):
            _fail(
                task, "Model unavailable", f"Model {target.id} became {target.active_state} during the sync"
            )
            return
        alm_structure.apply(alm_structure.copy_structure(revision.structure), target)
        user = state.user_by_id(task.user_id)
        alm.record(revision, target.id, iso_now(), user.id if user else task.user_id, "Sync")
        task.result = {"successful": True, **ids}
        return
    source = revision.structure
    target_structure = alm.revisions[task.target_revision_id].structure
    key = (task.model_id, task.target_revision_id, task.source_revision_id, task.kind)
    if task.kind == "comparison":
        alm.reports[key] = alm_structure.comparison_tsv(target_structure, source)
    else:
        totals, differences = alm_structure.summary(target_structure, source)
        alm.reports[key] = {**ids, "totals": totals, "differences": differences}
    segment = "comparisonReports" if task.kind == "comparison" else "summaryReports"
    url = f"/2/0/models/{task.model_id}/alm/{segment}/{task.target_revision_id}/{task.source_revision_id}"
    task.result = {"successful": True, "reportFileUrl": url, **ids}


def _model_or_404(state: EmulatorState, model_id: Any, label: str = "Model") -> Model:
    model = state.models.get(str(model_id)) if isinstance(model_id, str) else None
    if model is None:
        raise ApiError(404, f"{label} {model_id} not found or no access")
    return model


def _revision_in(alm: AlmState, revision_id: Any, model_id: str) -> Revision:
    if not isinstance(revision_id, str) or revision_id not in alm.history.get(model_id, []):
        raise ApiError(404, f"Revision {revision_id} not found in model {model_id}")
    return alm.revisions[revision_id]


# ---------------------------------------------------------------------- online status
def set_online(model: Model, status: str) -> None:
    """Apply an online status (``online``/``offline``) to ``model`` (raises :class:`ApiError`)."""
    if status not in ("online", "offline"):
        raise ApiError(400, f"Invalid status value {status!r}: use 'online' or 'offline'")
    if model.active_state == "LOCKED":
        raise ApiError(400, f"Model {model.id} is locked")
    table = OFFLINE if status == "offline" else ONLINE
    model.active_state = table.get(model.active_state, model.active_state)


async def online_status(request: Request) -> Response:
    """``POST|PUT /models/{modelId}/onlineStatus`` ``{"status": "online"|"offline"}`` -> 204."""
    _, model = resolve_model(request)
    body = await _body(request)
    set_online(model, str(body.get("status")))
    return Response(status_code=204)


# ---------------------------------------------------------------------- revisions
async def latest_revision(request: Request) -> Response:
    """``GET /models/{modelId}/alm/latestRevision`` (``revisions`` omitted when there is none)."""
    _, model = resolve_model(request)
    _, alm = _alm(request)
    body = envelope(request, None, "revision")
    latest = alm.latest(model.id)
    if latest is not None:
        body["revisions"] = [_revision_api(alm, latest, model.id)]
    return json_response(body)


async def list_revisions(request: Request) -> Response:
    """``GET /models/{modelId}/alm/revisions`` (date filters, ``sort``, paging)."""
    state, model = resolve_model(request)
    _, alm = _alm(request)
    items = [_revision_api(alm, alm.revisions[r], model.id) for r in alm.history.get(model.id, [])]
    after = request.query_params.get("appliedAfter")
    before = request.query_params.get("appliedBefore")
    if after:
        items = [i for i in items if i.get("appliedOn", "")[:10] >= after]
    if before:
        items = [i for i in items if i.get("appliedOn", "")[:10] <= before]
    sort = request.query_params.get("sort", "")
    if sort.lstrip("+-"):
        field = sort.lstrip("+-")
        items.sort(key=lambda i: str(i.get(field, "")), reverse=sort.startswith("-"))
    return paged(request, state, items, "revisions", None, "revision", omit_empty=True)


async def create_revision(request: Request) -> Response:
    """``POST /models/{modelId}/alm/revisions`` ``{"name", "description"?}`` -> 201."""
    state, model = resolve_model(request)
    user = require_user(request)
    _, alm = _alm(request)
    body = await _body(request)
    name, description = body.get("name"), body.get("description")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Expected mandatory field 'name'")
    if len(name) > 60:
        raise ApiError(400, "The revision name exceeds 60 characters")
    if description is not None and (not isinstance(description, str) or len(description) > 250):
        raise ApiError(400, "The revision description must be text of at most 250 characters")
    if model.active_state == "LOCKED":
        raise ApiError(423, f"Model {model.id} is locked")
    if model.active_state.startswith("PRODUCTION"):
        raise ApiError(
            400, f"Model {model.id} is in deployed mode: create revisions in the standard-mode model"
        )
    structure = alm_structure.snapshot(model)
    latest = alm.latest(model.id)
    if latest is not None and latest.structure == structure:
        raise ApiError(400, f"Model {model.id} has no structural changes since revision {latest.id}")
    now = iso_now()
    revision = Revision(
        id=uuid.uuid4().hex.upper(),
        name=name,
        description=description,
        created_on=now,
        created_by=user.id,
        source_model_id=model.id,
        structure=structure,
        seq=alm.next_seq(),
    )
    alm.record(revision, model.id, now, user.id, "Created")
    api = _revision_api(alm, revision, model.id)
    return json_response(envelope(request, None, "revision", revisions=[api], revision=api), status=201)


async def applied_to_models(request: Request) -> Response:
    """``GET /models/{modelId}/alm/revisions/{revisionId}/appliedToModels`` (source model first)."""
    state, model = resolve_model(request)
    _, alm = _alm(request)
    revision = _revision_in(alm, request.path_params["revisionId"], model.id)
    items: list[dict[str, Any]] = []
    for app in alm.applied.get(revision.id, []):
        target = state.models.get(app.model_id)
        entry: dict[str, Any] = {
            "appliedBy": app.applied_by,
            "appliedOn": app.applied_on,
            "appliedMethod": app.method,
            "modelDeleted": target is None,
        }
        if target is not None:
            entry.update(modelId=target.id, modelName=target.name, workspaceId=target.workspace_id)
        items.append(entry)
    return json_response(envelope(request, None, "appliedToModels", appliedToModels=items))


async def syncable_revisions(request: Request) -> Response:
    """``GET /models/{modelId}/alm/syncableRevisions?sourceModelId=``, newest first."""
    state, model = resolve_model(request)
    _, alm = _alm(request)
    source_id = request.query_params.get("sourceModelId")
    if not source_id or not _ID.match(source_id):
        raise ApiError(400, "Expected query parameter 'sourceModelId' (32 upper-case hex characters)")
    _model_or_404(state, source_id, "Source model")
    body = envelope(request, None, "revision")
    found = syncable(alm, model.id, source_id)
    if found:
        body["revisions"] = [_revision_api(alm, r, source_id) for r in found]
    return json_response(body)


# ---------------------------------------------------------------------- tasks
async def _task_body(request: Request) -> dict[str, str]:
    body = await _body(request)
    keys = ("sourceRevisionId", "sourceModelId", "targetRevisionId")
    if any(not isinstance(body.get(k), str) or not body[k] for k in keys):
        raise ApiError(400, _MANDATORY)
    return {k: str(body[k]) for k in keys}


def _new_task(
    request: Request, alm: AlmState, kind: str, model: Model, fields: dict[str, str], delay: float
) -> AlmTask:
    user = require_user(request)
    task = AlmTask(
        id=uuid.uuid4().hex.upper(),
        kind=kind,
        model_id=model.id,
        source_model_id=fields["sourceModelId"],
        source_revision_id=fields["sourceRevisionId"],
        target_revision_id=fields["targetRevisionId"],
        user_id=user.id,
        created=iso_now(),
        due=time.monotonic() + delay,
    )
    alm.tasks[task.id] = task
    _schedule(get_state(request), alm, delay)
    return task


async def create_sync_task(request: Request) -> Response:
    """``POST /models/{modelId}/alm/syncTasks`` -> 201 ``{"task": {...IN_PROGRESS}}``."""
    state, model = resolve_model(request)
    _, alm = _alm(request)
    fields = await _task_body(request)
    source = _model_or_404(state, fields["sourceModelId"], "Source model")
    revision = _revision_in(alm, fields["sourceRevisionId"], source.id)
    latest = alm.latest(model.id)
    if latest is None or latest.id != fields["targetRevisionId"]:
        have = latest.id if latest else "none"
        raise ApiError(
            400,
            f"targetRevisionId {fields['targetRevisionId']} is not the latest revision of model {model.id} ({have})",
        )
    if model.active_state == "LOCKED":
        raise ApiError(423, f"Model {model.id} is locked: unlock it before syncing")
    if revision not in syncable(alm, model.id, source.id):
        raise ApiError(
            400,
            f"Revision {revision.id} of model {source.id} cannot be synced to model {model.id}: it is not newer "
            "than the model's latest revision or not compatible with it",
        )
    if any(
        t.kind == "sync" and t.model_id == model.id and t.state == "IN_PROGRESS" for t in alm.tasks.values()
    ):
        raise ApiError(409, f"A sync task is already running on model {model.id}")
    task = _new_task(request, alm, "sync", model, fields, alm.settings.sync_seconds)
    return json_response(
        envelope(request, None, "task", task=task.to_api(_task_url(request, task))), status=201
    )


async def list_sync_tasks(request: Request) -> Response:
    """``GET /models/{modelId}/alm/syncTasks``, newest first (``tasks`` omitted when none)."""
    _, model = resolve_model(request)
    _, alm = _alm(request)
    tasks = [t for t in alm.tasks.values() if t.kind == "sync" and t.model_id == model.id]
    body = envelope(request, None, "task")
    if tasks:
        body["tasks"] = [t.to_api(_task_url(request, t)) for t in reversed(tasks)]
    return json_response(body)


def _find_task(request: Request, alm: AlmState, model: Model, kind: str, param: str) -> AlmTask:
    task_id = request.path_params[param]
    task = alm.tasks.get(task_id)
    if task is None or task.kind != kind or task.model_id != model.id:
        raise ApiError(404, f"Task {task_id} not found in model {model.id}")
    return task


async def get_sync_task(request: Request) -> Response:
    """``GET /models/{modelId}/alm/syncTasks/{syncTaskId}``."""
    _, model = resolve_model(request)
    _, alm = _alm(request)
    task = _find_task(request, alm, model, "sync", "syncTaskId")
    return json_response(envelope(request, None, "task", task=task.to_api(_task_url(request, task))))


def _report_task_creator(kind: str) -> Any:
    async def create(request: Request) -> Response:
        state, model = resolve_model(request)
        _, alm = _alm(request)
        fields = await _task_body(request)
        source = _model_or_404(state, fields["sourceModelId"], "Source model")
        _revision_in(alm, fields["sourceRevisionId"], source.id)
        _revision_in(alm, fields["targetRevisionId"], model.id)
        task = _new_task(request, alm, kind, model, fields, alm.settings.report_seconds)
        body = envelope(request, None, "task", task=task.to_api(_task_url(request, task)))
        return json_response(body, status=201)

    return create


def _report_task_getter(kind: str) -> Any:
    async def get(request: Request) -> Response:
        _, model = resolve_model(request)
        _, alm = _alm(request)
        task = _find_task(request, alm, model, kind, "taskId")
        return json_response(envelope(request, None, "task", task=task.to_api(_task_url(request, task))))

    return get


def _report(request: Request, alm: AlmState, model: Model, kind: str) -> Any:
    key = (model.id, request.path_params["targetRevisionId"], request.path_params["sourceRevisionId"], kind)
    if key not in alm.reports:
        raise ApiError(404, "Report not found or expired: create a report task first")
    return alm.reports[key]


async def comparison_report(request: Request) -> Response:
    """The TSV report; ``Accept`` must allow ``application/octet-stream`` (else 406, as Anaplan)."""
    _, model = resolve_model(request)
    _, alm = _alm(request)
    accept = request.headers.get("accept", "*/*")
    if not any(m in accept for m in ("application/octet-stream", "*/*", "application/*")):
        raise ApiError(406, "Not Acceptable: the comparison report is served as application/octet-stream")
    content = _report(request, alm, model, "comparison")
    return Response(content, media_type="application/octet-stream")


async def summary_report(request: Request) -> Response:
    """``GET /models/{modelId}/alm/summaryReports/{targetRevisionId}/{sourceRevisionId}``."""
    _, model = resolve_model(request)
    _, alm = _alm(request)
    report = _report(request, alm, model, "summary")
    return json_response(envelope(request, None, "summaryReport", summaryReport=report))


def alm_routes(api: str) -> list[Route]:
    """Routes under ``api`` (``/2/0``)."""
    m = f"{api}/models/{{modelId}}"
    a = f"{m}/alm"
    return [
        Route(f"{m}/onlineStatus", online_status, methods=["POST", "PUT"]),
        Route(f"{a}/syncableRevisions", syncable_revisions, methods=["GET"]),
        Route(f"{a}/latestRevision", latest_revision, methods=["GET"]),
        Route(f"{a}/revisions", list_revisions, methods=["GET"]),
        Route(f"{a}/revisions", create_revision, methods=["POST"]),
        Route(f"{a}/revisions/{{revisionId}}/appliedToModels", applied_to_models, methods=["GET"]),
        Route(f"{a}/syncTasks", list_sync_tasks, methods=["GET"]),
        Route(f"{a}/syncTasks", create_sync_task, methods=["POST"]),
        Route(f"{a}/syncTasks/{{syncTaskId}}", get_sync_task, methods=["GET"]),
        Route(f"{a}/comparisonReportTasks", _report_task_creator("comparison"), methods=["POST"]),
        Route(f"{a}/comparisonReportTasks/{{taskId}}", _report_task_getter("comparison"), methods=["GET"]),
        Route(
            f"{a}/comparisonReports/{{targetRevisionId}}/{{sourceRevisionId}}",
            comparison_report,
            methods=["GET"],
        ),
        Route(f"{a}/summaryReportTasks", _report_task_creator("summary"), methods=["POST"]),
        Route(f"{a}/summaryReportTasks/{{taskId}}", _report_task_getter("summary"), methods=["GET"]),
        Route(
            f"{a}/summaryReports/{{targetRevisionId}}/{{sourceRevisionId}}", summary_report, methods=["GET"]
        ),
    ]
