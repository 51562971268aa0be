"""CloudWorks integration flows: list, read, create, delete and run (with selected steps)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import get_state, require_user
from .cloudworks_common import OK, meta_of, paging_args, runner, who
from .cloudworks_common import body as body_of
from .responses import ApiError, json_response
from .state.alm import iso_now
from .state.cloudworks import Flow, FlowStep, cloudworks_state, step_time


def _flow_summary(flow: Flow, cw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": flow.id,
        "name": flow.name,
        "createdBy": flow.created_by,
        "creationDate": flow.created,
        "modificationDate": flow.created,
        "modifiedBy": flow.created_by,
        "nuxVisible": False,
        "stepsCount": len(flow.steps),
    }
    runs = cw.runs_of(flow.id)
    if runs:
        body["latestRun"] = runs[0].latest_api()
    return body


def _flow_detail(flow: Flow, cw: Any) -> dict[str, Any]:
    steps = []
    for step in flow.steps:
        integration = cw.integrations.get(step.referrer)
        entry: dict[str, Any] = {
            "referrer": step.referrer,
            "name": integration.name if integration else "",
            "type": integration.type if integration else "Import",
            "createdBy": flow.created_by,
            "createdDate": step_time(step.created),
            "modifiedDate": step_time(step.created),
            "modifiedBy": None,
            "modelId": integration.model_id if integration else "",
            "workspaceId": integration.workspace_id if integration else "",
            "dependsOn": list(step.depends_on),
            "isSkipped": step.is_skipped,
            "exceptionBehavior": [dict(r) for r in step.exception_behavior],
        }
        runs = [r for r in cw.runs_of(step.referrer) if r.flow_group_id == flow.id]
        if runs:
            entry["latestRun"] = runs[0].latest_api()
        steps.append(entry)
    return {**_flow_summary(flow, cw), "version": "2.0", "steps": steps}


async def list_flows(request: Request) -> Response:
    """``GET /integrationflows``."""
    require_user(request)
    cw = cloudworks_state(get_state(request))
    flows = list(cw.flows.values())
    offset, limit = paging_args(request, 25)
    page = [_flow_summary(f, cw) for f in flows[offset : offset + limit]]
    meta = meta_of(
        request,
        "integrationflows",
        paging={"currentPageSize": len(page), "totalSize": len(flows), "offset": offset},
    )
    return json_response({"status": OK, "integrationFlows": page, "meta": meta})


def _flow(request: Request) -> tuple[Any, Flow]:
    require_user(request)
    cw = cloudworks_state(get_state(request))
    flow = cw.flows.get(request.path_params["integrationFlowId"])
    if flow is None:
        raise ApiError(404, "Resource not found")
    return cw, flow


async def get_flow(request: Request) -> Response:
    """``GET /integrationflows/{integrationFlowId}``: the detail with ``steps``."""
    cw, flow = _flow(request)
    return json_response(
        {"status": OK, "integrationFlow": _flow_detail(flow, cw), "meta": meta_of(request, "integrationflow")}
    )


async def create_flow(request: Request) -> Response:
    """``POST /integrationflows``: at least two enabled steps, each an existing integration."""
    user = require_user(request)
    cw = cloudworks_state(get_state(request))
    body = await body_of(request)
    if (
        not isinstance(body.get("name"), str)
        or body.get("version") != "2.0"
        or body.get("type") != "IntegrationFlow"
    ):
        raise ApiError(400, "Invalid request body: name, version 2.0 and type IntegrationFlow are required")
    steps_raw = body.get("steps")
    if (
        not isinstance(steps_raw, list)
        or len([s for s in steps_raw if isinstance(s, dict) and not s.get("isSkipped")]) < 2
    ):
        raise ApiError(400, "An integration flow needs at least two enabled steps")
    now = iso_now()
    steps = []
    for raw in steps_raw:
        if raw.get("type") != "Integration" or raw.get("referrer") not in cw.integrations:
            raise ApiError(400, f"Step referrer {raw.get('referrer')!r} is not an integration")
        rules = raw.get("exceptionBehavior") or []
        if not isinstance(rules, list):
            raise ApiError(400, "exceptionBehavior must be a list")
        depends = [str(d) for d in raw.get("dependsOn") or []]
        steps.append(
            FlowStep(str(raw["referrer"]), depends, bool(raw.get("isSkipped", False)), list(rules), now)
        )
    flow = Flow(id=uuid.uuid4().hex, name=body["name"], steps=steps, created=now, created_by=who(user))
    cw.flows[flow.id] = flow
    return json_response({"status": OK, "integrationFlow": {"integrationFlowId": flow.id}})


async def delete_flow(request: Request) -> Response:
    """``DELETE /integrationflows/{integrationFlowId}``: 409 while it runs."""
    cw, flow = _flow(request)
    if cw.active_run(flow.id) is not None:
        raise ApiError(409, "Integration flow is already running")
    del cw.flows[flow.id]
    return json_response({"status": OK})


async def run_flow(request: Request) -> Response:
    """``POST /integrationflows/{id}/run`` ``{"stepsToRun"?: [integration ids]}`` -> ``{"run": {"id"}}``."""
    user = require_user(request)
    cw, flow = _flow(request)
    body = await body_of(request, required=False)
    only = body.get("stepsToRun")
    if only is not None:
        referrers = {s.referrer for s in flow.steps}
        if not isinstance(only, list) or not only or any(s not in referrers for s in only):
            raise ApiError(400, f"stepsToRun must list step ids (integration ids) of flow {flow.id}")
    if cw.active_run(flow.id) is not None:
        raise ApiError(409, f"Integration flow {flow.id} is already running")
    run = runner(request).start_flow(flow, [str(s) for s in only] if only is not None else None, who(user))
    return json_response({"status": OK, "run": {"id": run.id}})
