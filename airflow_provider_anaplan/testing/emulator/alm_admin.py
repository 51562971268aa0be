"""Admin API for ALM and CloudWorks (``/_emulator/alm/...``, ``/_emulator/cloudworks/...``, object store).

No auth, never faulted, like the rest of ``/_emulator``. See ``docs/emulator.md`` ("ALM and CloudWorks").
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import alm_structure
from .objectstore import object_store
from .responses import json_response
from .state import ListDef, Model
from .state.alm import DEV_MODEL_ID, alm_state
from .state.cloudworks import cloudworks_state, seed_objects

__all__ = ["alm_admin_routes"]


def _bad(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _model(request: Request) -> Model | Response:
    state = request.app.state.emulator.state
    model_id = request.query_params.get("model", DEV_MODEL_ID)
    model = state.models.get(model_id) or (None if "model" in request.query_params else state.default_model())
    if model is None:
        return _bad(f"unknown model {model_id}", 404)
    return model


async def structure(request: Request) -> Response:
    """``GET`` the structure of ``?model=`` (default: the development model); ``POST`` adds to it.

    Body: ``{"lineItem": {"module", "name", "dataType"}}`` or
    ``{"list": {"id", "name", "properties"?}}`` or ``{"listProperty": {"list", "name", "type"}}``.
    """
    model = _model(request)
    if isinstance(model, Response):
        return model
    state = request.app.state.emulator.state
    alm_state(state)  # seed the revisions before the structure moves
    if request.method == "POST":
        try:
            body = await _json(request)
            _change(model, body)
        except (ValueError, KeyError, TypeError) as exc:
            return _bad(f"bad structure change: {exc}")
    return json_response(alm_structure.snapshot(model))


def _change(model: Model, body: dict[str, Any]) -> None:
    if "lineItem" in body:
        spec = body["lineItem"]
        module = model.modules[str(spec["module"])]
        name, kind = str(spec["name"]), str(spec.get("dataType", "number"))
        if kind not in ("number", "text", "boolean"):
            raise ValueError("dataType must be number, text or boolean")
        if name == module.line_item or name in module.extra_line_items:
            raise ValueError(f"module {module.id} already has a line item {name!r}")
        module.extra_line_items[name] = kind
    elif "list" in body:
        spec = body["list"]
        list_id = str(spec["id"])
        if len(list_id) != 12 or not list_id.isdigit() or not list_id.startswith("101"):
            raise ValueError("list ids are 12 digits starting with 101")
        if list_id in model.lists:
            raise ValueError(f"list {list_id} exists")
        props = {str(k): str(v) for k, v in (spec.get("properties") or {}).items()}
        model.lists[list_id] = ListDef(id=list_id, name=str(spec["name"]), properties=props)
    elif "listProperty" in body:
        spec = body["listProperty"]
        lst = model.lists[str(spec["list"])]
        lst.properties[str(spec["name"])] = str(spec.get("type", "text"))
        for item in lst.items.values():
            item[str(spec["name"])] = lst.default_value(str(spec["name"]))
    else:
        raise ValueError("give one of lineItem, list, listProperty")


_STATES = ("UNLOCKED", "LOCKED", "MAINTENANCE", "PRODUCTION", "PRODUCTION_MAINTENANCE", "ARCHIVED")


async def model_state(request: Request) -> Response:
    """``POST /_emulator/alm/models/{modelId}/state {"activeState"}``: lock, archive, deploy a model."""
    model = request.app.state.emulator.state.models.get(request.path_params["modelId"])
    if model is None:
        return _bad(f"unknown model {request.path_params['modelId']}", 404)
    try:
        value = str((await _json(request))["activeState"])
    except (ValueError, KeyError) as exc:
        return _bad(f'give {{"activeState": ...}}: {exc}')
    if value not in _STATES:
        return _bad(f"activeState must be one of {', '.join(_STATES)}")
    model.active_state = value
    return json_response({"modelId": model.id, "activeState": model.active_state})


async def alm_config(request: Request) -> Response:
    settings = alm_state(request.app.state.emulator.state).settings
    return await _settings(request, settings)


async def cloudworks_config(request: Request) -> Response:
    settings = cloudworks_state(request.app.state.emulator.state).settings
    return await _settings(request, settings)


async def _settings(request: Request, settings: Any) -> Response:
    if request.method == "POST":
        try:
            body = await _json(request)
            known = {f.name for f in fields(settings)}
            for key, value in body.items():
                if key not in known:
                    return _bad(f"unknown setting {key!r}; known: {sorted(known)}")
                setattr(settings, key, float(value))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    return json_response(asdict(settings))


async def store_root(request: Request) -> Response:
    """``GET`` the object-store directory; ``POST {"root": "/path"}`` points it elsewhere."""
    store = object_store()
    cloudworks_state(request.app.state.emulator.state)  # seed now, so a later first use re-seeds nothing
    if request.method == "POST":
        try:
            body = await _json(request)
            store.set_root(str(body["root"]))
            seed_objects(store)
        except (ValueError, KeyError, OSError) as exc:
            return _bad(f"bad object-store root: {exc}")
    return json_response({"root": str(store.root), "buckets": store.buckets()})


async def store_object(request: Request) -> Response:
    """``GET``/``PUT``/``DELETE`` ``/_emulator/objectstore/{bucket}/{key}`` (raw bytes)."""
    store = object_store()
    cloudworks_state(request.app.state.emulator.state)
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    try:
        if request.method == "PUT":
            store.write(bucket, key, await request.body())
            return json_response({"bucket": bucket, "key": key, "size": len(store.read(bucket, key))})
        if request.method == "DELETE":
            store.delete(bucket, key)
            return Response(status_code=204)
        return Response(store.read(bucket, key), media_type="application/octet-stream")
    except FileNotFoundError:
        return _bad(f"no object {key!r} in bucket {bucket!r}", 404)
    except ValueError as exc:
        return _bad(str(exc))


async def store_list(request: Request) -> Response:
    """``GET /_emulator/objectstore/{bucket}``: the objects of a bucket."""
    try:
        return json_response({"objects": object_store().list_objects(request.path_params["bucket"])})
    except ValueError as exc:
        return _bad(str(exc))


async def cloudworks_runs(request: Request) -> Response:
    """Every CloudWorks run (newest last), with its Anaplan task ids: for tests."""
    cw = cloudworks_state(request.app.state.emulator.state)
    return json_response({"runs": [r.to_admin() for r in cw.runs.values()]})


def alm_admin_routes() -> list[Route]:
    p = "/_emulator"
    return [
        Route(f"{p}/alm/structure", structure, methods=["GET", "POST"]),
        Route(f"{p}/alm/config", alm_config, methods=["GET", "POST"]),
        Route(f"{p}/alm/models/{{modelId}}/state", model_state, methods=["POST"]),
        Route(f"{p}/cloudworks/config", cloudworks_config, methods=["GET", "POST"]),
        Route(f"{p}/cloudworks/runs", cloudworks_runs, methods=["GET"]),
        Route(f"{p}/objectstore", store_root, methods=["GET", "POST"]),
        Route(f"{p}/objectstore/{{bucket}}", store_list, methods=["GET"]),
        Route(f"{p}/objectstore/{{bucket}}/{{key:path}}", store_object, methods=["GET", "PUT", "DELETE"]),
    ]
