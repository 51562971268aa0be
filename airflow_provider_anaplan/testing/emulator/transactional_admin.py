"""Admin routes of the transactional API under ``/_emulator/transactional`` (no auth, never faulted).

* ``GET  /_emulator/transactional?model=`` -> settings, open state, calendar, read requests, views
* ``POST /_emulator/transactional?model=`` ``{settings..., "openState", "fiscalYear", ...}`` (no
  ``model``: every model)
* ``POST /_emulator/transactional/large_list?model=`` ``{"count", "id"?, "name"?, "codes"?}``
* ``POST /_emulator/transactional/large_view?model=`` ``{"rows", "columns", "pages"?, "id"?, "name"?}``
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .responses import json_response
from .state import Model
from .transactional_seed import TransactionalFixtureError, configure, make_large_list, make_large_view


def _models(request: Request) -> list[Model] | Response:
    state = request.app.state.emulator.state
    model_id = request.query_params.get("model")
    if model_id is None:
        return list(state.models.values()) if request.method == "POST" else [state.default_model()]
    model = state.models.get(model_id)
    if model is None:
        return json_response({"error": f"unknown model {model_id}"}, status=404)
    return [model]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def describe(model: Model) -> dict[str, Any]:
    """What ``GET /_emulator/transactional`` shows of one model."""
    tx = model.transactional
    now = time.monotonic()
    return {
        "model": model.id,
        "settings": tx.settings.to_dict(),
        "openState": tx.runtime.current(now),
        "currentPeriod": tx.calendar.current_period.isoformat() if tx.calendar.current_period else None,
        "fiscalYear": tx.calendar.fiscal_year,
        "views": sorted(tx.views),
        "readRequests": [
            {
                "requestId": r.id,
                "kind": r.kind,
                "objectId": r.object_id,
                "state": r.progress(tx.settings, now)[0],
                "totalPages": r.total_pages,
            }
            for r in tx.read_requests.values()
        ],
    }


async def transactional(request: Request) -> Response:
    models = _models(request)
    if isinstance(models, Response):
        return models
    if request.method == "POST":
        try:
            body = await _body(request)
            for model in models:
                configure(model, body)
        except (ValueError, KeyError, TypeError, TransactionalFixtureError) as exc:
            return json_response({"error": f"invalid settings: {exc}"}, status=400)
    return json_response(describe(models[0]) if len(models) == 1 else [describe(m) for m in models])


async def large_list(request: Request) -> Response:
    models = _models(request)
    if isinstance(models, Response):
        return models
    try:
        lst = make_large_list(models[0], **await _body(request))
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, status=400)
    return json_response({"id": lst.id, "name": lst.name, "itemCount": len(lst.items)})


async def large_view(request: Request) -> Response:
    models = _models(request)
    if isinstance(models, Response):
        return models
    try:
        module = make_large_view(models[0], **await _body(request))
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, status=400)
    cells = 1
    for dim in module.dimensions:
        cells *= len(dim.items or [])
    return json_response({"moduleId": module.id, "viewId": module.id, "name": module.name, "cells": cells})


def transactional_admin_routes() -> list[Route]:
    p = "/_emulator/transactional"
    return [
        Route(p, transactional, methods=["GET", "POST"]),
        Route(f"{p}/large_list", large_list, methods=["POST"]),
        Route(f"{p}/large_view", large_view, methods=["POST"]),
    ]
