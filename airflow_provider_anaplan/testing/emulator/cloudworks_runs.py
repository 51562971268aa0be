"""CloudWorks runs: history, status, errors and error dumps."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import get_state, require_user
from .cloudworks_common import OK, meta_of, paging_args
from .responses import ApiError, json_response
from .state.cloudworks import Run, cloudworks_state


async def run_history(request: Request) -> Response:
    """``GET /integrations/runs/{integrationId}`` (an integration or a flow id), newest run first."""
    require_user(request)
    cw = cloudworks_state(get_state(request))
    owner = request.path_params["integrationId"]
    integration, flow = cw.integrations.get(owner), cw.flows.get(owner)
    if integration is None and flow is None:
        raise ApiError(404, "Resource not found")
    offset, limit = paging_args(request, 25)
    runs = cw.runs_of(owner)
    page = [r.record_api() for r in runs[offset : offset + limit]]
    history: dict[str, Any] = {"integrationId": owner}
    if integration is not None:
        history.update(name=integration.name, integrationType=integration.type)
        if integration.process_id:
            history["processId"] = integration.process_id
        history.update(
            version="2.0",
            schedule=None,
            workspaceId=integration.workspace_id,
            modelId=integration.model_id,
            creationDate=integration.created,
            modificationDate=integration.created,
            createdBy=integration.created_by,
            modifiedBy=integration.created_by,
            status=1,
            notificationId=integration.notification_id,
        )
    elif flow is not None:
        history.update(name=flow.name, version="2.0", schedule=None, creationDate=flow.created,
                       modificationDate=flow.created, createdBy=flow.created_by, modifiedBy=flow.created_by, status=1)  # fmt: skip
    history.update(runs=page, totalRuns=len(runs))
    meta = meta_of(
        request, "runs", paging={"currentPageSize": len(page), "totalSize": len(runs), "offset": offset}
    )
    return json_response({"status": OK, "history_of_runs": history, "meta": meta})


def _run(request: Request) -> Run:
    require_user(request)
    cw = cloudworks_state(get_state(request))
    run = cw.runs.get(request.path_params["runId"])
    if run is None:
        raise ApiError(404, "Resource not found")
    return run


async def run_status(request: Request) -> Response:
    """``GET /integrations/run/{runId}``: the ``RunStatus`` (no ``endDate`` while it goes)."""
    run = _run(request)
    return json_response({"status": OK, "run": run.status_api(), "meta": meta_of(request, "run")})


async def run_errors(request: Request) -> Response:
    """Errors of a run: ``runs`` is ``[]`` when there are none (the spec's array type)."""
    run = _run(request)
    runs: list[dict[str, Any]] = []
    if run.errors:
        runs.append(
            {
                "id": run.id,
                "errorMessages": run.errors,
                "taskId": run.task_ids[-1] if run.task_ids else "",
                "creationDate": run.start,
                "modificationDate": run.end or run.start,
                "createdBy": run.created_by,
                "modifiedBy": run.created_by,
            }
        )
    return json_response({"status": OK, "runs": runs, "meta": meta_of(request, "runerror")})


def _dump_response(run: Run, action_id: str | None) -> Response:
    if not run.finished:
        raise ApiError(404, f"Run {run.id} is still running: no error log yet")
    if action_id is None:
        if len(run.dumps) > 1:
            raise ApiError(
                404, "This run has several import error logs: use /process/import/{actionId}/dumps"
            )
        content = next(iter(run.dumps.values()), None)
    else:
        content = run.dumps.get(action_id)
    if content is None:
        raise ApiError(404, "Your integration run was successful / no errors")
    return Response(content, media_type="text/csv; charset=utf-8")


async def run_dumps(request: Request) -> Response:
    """The import error log (CSV) of a run (404 when the run had no rejected rows)."""
    return _dump_response(_run(request), None)


async def process_dumps(request: Request) -> Response:
    """``GET /integrations/run/{runId}/process/import/{actionId}/dumps``: one import step's CSV dump."""
    return _dump_response(_run(request), request.path_params["actionId"])
