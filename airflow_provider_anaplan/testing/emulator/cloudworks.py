"""CloudWorks API of the emulator (connections, integrations, runs, flows, the emulated object store).

Served under both base-URL forms of the spec: ``{emulator}/cloudworks/2/0`` (as
``https://api.anaplan.com/cloudworks/2/0``) and ``{emulator}/2/0`` (as
``https://api.cloudworks.anaplan.com/2/0``). Shapes follow
``anaplan-openapi/cloudworks/cloudworks-openapi.json``; the choices where it is silent are in
``docs/emulator.md`` ("ALM and CloudWorks"). Runs are executed by :mod:`.cloudworks_runner`.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import cloudworks_connections as connections
from . import cloudworks_flows as flows
from . import cloudworks_runs as runs
from .auth import get_state, require_user
from .cloudworks_common import OK, meta_of, paging_args, runner, who
from .cloudworks_common import body as body_of
from .responses import ApiError, json_response
from .state.alm import iso_now
from .state.cloudworks import Integration, cloudworks_state

__all__ = ["PREFIXES", "cloudworks_routes"]

#: ``/cloudworks/2/0`` (the ``api.anaplan.com/cloudworks/2/0`` form) and ``/2/0`` (the
#: ``api.cloudworks.anaplan.com/2/0`` form).
PREFIXES = ("/cloudworks/2/0", "/2/0")


# ---------------------------------------------------------------------- integrations
def _summary(integration: Integration, cw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "integrationId": integration.id,
        "name": integration.name,
        "integrationType": integration.type,
    }
    if integration.process_id:
        body["processId"] = integration.process_id
    body.update(
        workspaceId=integration.workspace_id,
        modelId=integration.model_id,
        createdBy=integration.created_by,
        creationDate=integration.created,
        modificationDate=integration.created,
        modifiedBy=integration.created_by,
    )
    runs = cw.runs_of(integration.id)
    if runs:
        body["latestRun"] = runs[0].latest_api()
    body.update(notificationId=integration.notification_id, nuxVisible=integration.nux_visible)
    return body


def _detail(integration: Integration, cw: Any) -> dict[str, Any]:
    jobs = []
    for job in integration.jobs:
        enriched = dict(job)
        for side in ("sources", "targets"):
            ends = []
            for end in job.get(side, []):
                end = dict(end)
                connection = cw.connections.get(end.get("connectionId")) if end.get("connectionId") else None
                if end.get("connectionId"):
                    end["isConnectionDeleted"] = connection is None
                    if connection is not None:
                        end.update(connectionName=connection.name, bucketName=connection.bucket)
                ends.append(end)
            enriched[side] = ends
        jobs.append(enriched)
    return {**_summary(integration, cw), "version": "2.0", "jobs": jobs}


async def list_integrations(request: Request) -> Response:
    """``GET /integrations`` (``offset``/``limit``, ``myIntegrations``, ``sortBy``, extra ``modelId``)."""
    user = require_user(request)
    cw = cloudworks_state(get_state(request))
    items = list(cw.integrations.values())
    if request.query_params.get("myIntegrations") == "1":
        items = [i for i in items if i.created_by == who(user)]
    model_id = request.query_params.get("modelId")
    if model_id:
        items = [i for i in items if i.model_id == model_id]
    sort = request.query_params.get("sortBy", "")
    if sort.lstrip("-") == "name":
        items.sort(key=lambda i: i.name.lower(), reverse=sort.startswith("-"))
    offset, limit = paging_args(request, 25)
    page = [_summary(i, cw) for i in items[offset : offset + limit]]
    meta = meta_of(
        request,
        "integrations",
        paging={"currentPageSize": len(page), "totalSize": len(items), "offset": offset},
        tenantCurrentCount=len(cw.integrations) + len(cw.flows),
        tenantMaxAllowed=cw.tenant_max,
    )
    return json_response({"status": OK, "integrations": page, "meta": meta})


def _integration(request: Request) -> tuple[Any, Integration]:
    require_user(request)
    cw = cloudworks_state(get_state(request))
    integration = cw.integrations.get(request.path_params["integrationId"])
    if integration is None:
        raise ApiError(404, "Resource not found")
    return cw, integration


async def get_integration(request: Request) -> Response:
    """``GET /integrations/{integrationId}``: the detail with ``jobs``."""
    cw, integration = _integration(request)
    return json_response({"status": OK, "integration": _detail(integration, cw)})


def _check_jobs(cw: Any, model: Any, jobs: Any, process: bool) -> str:
    """Validate ``jobs``; the integration type they make (Import/Export)."""
    if not isinstance(jobs, list) or (not jobs and not process):
        raise ApiError(400, "Invalid request body: jobs are required for import and export integrations")
    kinds = set()
    for job in jobs:
        kind = job.get("type") if isinstance(job, dict) else None
        if not isinstance(kind, str) or kind not in _JOB_TYPES:
            raise ApiError(400, f"Invalid job type {kind!r}")
        if "GoogleBigQuery" in kind:
            raise ApiError(400, "GoogleBigQuery jobs are not emulated")
        sources, targets = job.get("sources"), job.get("targets")
        if (
            not isinstance(sources, list)
            or not isinstance(targets, list)
            or len(sources) != 1
            or len(targets) != 1
        ):
            raise ApiError(400, "Each job needs one source and one target")
        inbound = kind.endswith("ToAnaplan")
        cloud, anaplan = (sources[0], targets[0]) if inbound else (targets[0], sources[0])
        if cloud.get("connectionId") not in cw.connections:
            raise ApiError(400, f"Unknown connectionId {cloud.get('connectionId')!r}")
        if not isinstance(cloud.get("file"), str) or not cloud["file"]:
            raise ApiError(400, "The cloud end of a job needs a file")
        action_id = str(anaplan.get("actionId"))
        table = model.imports if inbound else model.exports
        if action_id not in table:
            raise ApiError(
                400, f"Action {action_id} is not an {'import' if inbound else 'export'} of model {model.id}"
            )
        if inbound:
            file_id = str(anaplan.get("fileId") or model.imports[action_id].file_id)
            if file_id != model.imports[action_id].file_id:
                raise ApiError(400, f"fileId {file_id} is not the file import {action_id} reads")
            anaplan["fileId"] = file_id
        kinds.add("Import" if inbound else "Export")
    if len(kinds) > 1 and not process:
        raise ApiError(400, "An integration's jobs must all be imports or all exports")
    return kinds.pop() if kinds else "Import"


_JOB_TYPES = (
    "AmazonS3ToAnaplan",
    "AnaplanToAmazonS3",
    "GoogleBigQueryToAnaplan",
    "AnaplanToGoogleBigQuery",
    "AzureBlobToAnaplan",
    "AnaplanToAzureBlob",
)


async def create_integration(request: Request) -> Response:
    """``POST /integrations``: an import/export integration (``jobs``) or a process one (``processId``)."""
    user = require_user(request)
    state = get_state(request)
    cw = cloudworks_state(state)
    body = await body_of(request)
    missing = [
        k
        for k in ("name", "version", "workspaceId", "modelId")
        if not isinstance(body.get(k), str) or not body[k]
    ]
    if missing:
        raise ApiError(400, f"Invalid request body: missing {', '.join(missing)}")
    if body["version"] != "2.0":
        raise ApiError(400, "Invalid version: must be 2.0")
    model = state.models.get(body["modelId"])
    if model is None or model.workspace_id != body["workspaceId"]:
        raise ApiError(400, "Invalid workspaceId or modelId")
    if len(cw.integrations) + len(cw.flows) >= cw.tenant_max:
        raise ApiError(409, "The tenant integration count is exceeded")
    process_id = body.get("processId")
    if process_id is not None and str(process_id) not in model.processes:
        raise ApiError(400, f"Process {process_id} not found in model {model.id}")
    jobs = body.get("jobs", [] if process_id else None)
    kind = _check_jobs(cw, model, jobs, process_id is not None)
    integration = Integration(
        id=uuid.uuid4().hex,
        name=body["name"],
        type="Process" if process_id else kind,
        workspace_id=model.workspace_id,
        model_id=model.id,
        jobs=list(jobs or []),
        process_id=str(process_id) if process_id else None,
        created=iso_now(),
        created_by=who(user),
        notification_id=uuid.uuid4().hex,
        nux_visible=bool(body.get("nuxVisible", False)),
    )
    cw.integrations[integration.id] = integration
    return json_response({"status": OK, "integration": {"integrationId": integration.id}})


async def delete_integration(request: Request) -> Response:
    """``DELETE /integrations/{integrationId}``: 409 while it runs."""
    cw, integration = _integration(request)
    if cw.active_run(integration.id) is not None:
        raise ApiError(409, "Integration is already running")
    del cw.integrations[integration.id]
    return json_response({"status": OK})


async def run_integration(request: Request) -> Response:
    """``POST /integrations/{integrationId}/run`` -> ``{"run": {"id"}}``; 409 while a run is going."""
    user = require_user(request)
    cw, integration = _integration(request)
    await body_of(request, required=False)
    if cw.active_run(integration.id) is not None:
        raise ApiError(409, f"Integration {integration.id} is already running")
    run = runner(request).start_integration(integration, who(user))
    return json_response({"status": OK, "run": {"id": run.id}})


async def cancel_integration(request: Request) -> Response:
    """``POST /integrations/{integrationId}/cancel`` (an integration or a flow id); 409 when idle."""
    require_user(request)
    cw = cloudworks_state(get_state(request))
    owner = request.path_params["integrationId"]
    if owner not in cw.integrations and owner not in cw.flows:
        raise ApiError(404, "Resource not found")
    run = cw.active_run(owner)
    if run is None:
        raise ApiError(409, f"Integration {owner} is not in running state")
    runner(request).cancel(run)
    return json_response({"status": OK})


def _routes(p: str) -> list[Route]:
    i = f"{p}/integrations"
    f = f"{p}/integrationflows"
    return [
        Route(f"{i}/connections", connections.list_connections, methods=["GET"]),
        Route(f"{i}/connections", connections.create_connection, methods=["POST"]),
        Route(f"{i}/connections/{{connectionId}}", connections.delete_connection, methods=["DELETE"]),
        Route(f"{i}/runs/{{integrationId}}", runs.run_history, methods=["GET"]),
        Route(f"{i}/runerror/{{runId}}", runs.run_errors, methods=["GET"]),
        Route(f"{i}/run/{{runId}}", runs.run_status, methods=["GET"]),
        Route(f"{i}/run/{{runId}}/dumps", runs.run_dumps, methods=["GET"]),
        Route(f"{i}/run/{{runId}}/process/import/{{actionId}}/dumps", runs.process_dumps, methods=["GET"]),
        Route(i, list_integrations, methods=["GET"]),
        Route(i, create_integration, methods=["POST"]),
        Route(f"{i}/{{integrationId}}", get_integration, methods=["GET"]),
        Route(f"{i}/{{integrationId}}", delete_integration, methods=["DELETE"]),
        Route(f"{i}/{{integrationId}}/run", run_integration, methods=["POST"]),
        Route(f"{i}/{{integrationId}}/cancel", cancel_integration, methods=["POST"]),
        Route(f, flows.list_flows, methods=["GET"]),
        Route(f, flows.create_flow, methods=["POST"]),
        Route(f"{f}/{{integrationFlowId}}", flows.get_flow, methods=["GET"]),
        Route(f"{f}/{{integrationFlowId}}", flows.delete_flow, methods=["DELETE"]),
        Route(f"{f}/{{integrationFlowId}}/run", flows.run_flow, methods=["POST"]),
    ]


def cloudworks_routes() -> list[Route]:
    """Routes of both base-URL forms the spec lists (``/cloudworks/2/0`` prefix on the API host, and ``/2/0``)."""
    return [route for prefix in PREFIXES for route in _routes(prefix)]
