"""Transactional metadata: modules, line items, views, dimensions, lists (model-level: ``transactional_model``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .responses import ApiError, envelope, json_response
from .state import ListDef, Model
from .transactional_common import flag, json_body, open_model, page_of
from .transactional_dims import (
    DimRef,
    dimension_item_api,
    ensure_ids,
    find_line_item,
    find_view,
    fold_index,
    line_items,
    model_dimension,
    module_dims,
)

_FORMATS = {"text": "TEXT", "boolean": "BOOLEAN", "number": "NUMBER"}


def _module(model: Model, module_id: str) -> Any:
    module = model.modules.get(module_id)
    if module is None:
        raise ApiError(404, f"Module {module_id} not found or no access")
    return module


def _list(model: Model, list_id: str) -> ListDef:
    lst = model.lists.get(list_id)
    if lst is None:
        raise ApiError(404, f"List {list_id} not found or no access")
    return lst


# ---------------------------------------------------------------------------------------- modules
async def list_modules(request: Request) -> Response:
    state, model = open_model(request)
    return page_of(
        request,
        state,
        list(model.modules.values()),
        lambda m: {"id": m.id, "name": m.name},
        "modules",
        None,
        "module",
    )


def _line_item_api(model: Model, item: Any, full: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "moduleId": item.module.id,
        "moduleName": item.module.name,
        "id": item.id,
        "name": item.name,
    }
    if full:
        dims = module_dims(model, item.module)
        cells = 1
        for dim in dims:
            cells *= max(dim.count(), 1)
        kind = item.data_type.upper()
        body.update(
            {
                "isSummary": False,
                "startOfSection": False,
                "broughtForward": False,
                "useSwitchover": False,
                "breakback": False,
                "cellCount": cells,
                "appliesTo": [d.api() for d in dims if d.is_list],
                "dataTags": [],
                "referencedBy": [],
                "format": kind,
                "formatMetadata": {"dataType": kind},
                "summary": "Sum" if kind == "NUMBER" else "None",
                "timeScale": "Month" if any(d.id == "20000000003" for d in dims) else "Not Applicable",
                "formulaScope": "All Versions",
                "style": "Normal",
                "code": "",
                "notes": "",
            }
        )
    return body


async def list_module_line_items(request: Request) -> Response:
    state, model = open_model(request)
    module = _module(model, request.path_params["moduleId"])
    full = flag(request, "includeAll")
    return page_of(
        request,
        state,
        line_items(module),
        lambda i: _line_item_api(model, i, full),
        "items",
        None,
        "lineItem",
    )


async def list_model_line_items(request: Request) -> Response:
    state, model = open_model(request)
    items = [i for m in model.modules.values() for i in line_items(m)]
    full = flag(request, "includeAll")
    return page_of(request, state, items, lambda i: _line_item_api(model, i, full), "items", None, "lineItem")


def _line_item(model: Model, line_item_id: str) -> Any:
    item = find_line_item(model, line_item_id)
    if item is None:
        raise ApiError(404, f"Line item {line_item_id} not found or no access")
    return item


async def line_item_dimensions(request: Request) -> Response:
    state, model = open_model(request)
    item = _line_item(model, request.path_params["lineItemId"])
    dims = module_dims(model, item.module)
    return page_of(request, state, dims, lambda d: d.api(), "dimensions", None, "dimension")


def _items_body(request: Request, model: Model, dim: DimRef, names: list[str] | None = None) -> Response:
    settings = model.transactional.settings
    index = dim.index()
    shown = index.names if names is None else names
    if len(shown) > settings.max_dimension_items:
        raise ApiError(
            400,
            f"Dimension {dim.id} has {len(shown)} items, more than the {settings.max_dimension_items} "
            "this call returns",
        )
    body = envelope(request, None, "dimension")
    if shown:
        body["items"] = [dimension_item_api(index, n) for n in shown]
    return json_response(body)


async def line_item_dimension_items(request: Request) -> Response:
    _, model = open_model(request)
    item = _line_item(model, request.path_params["lineItemId"])
    key = request.path_params["dimensionId"]
    dim = next((d for d in module_dims(model, item.module) if d.id == key), None)
    if dim is None:
        raise ApiError(404, f"Dimension {key} not found on line item {item.id} or no access")
    return _items_body(request, model, dim)


# ------------------------------------------------------------------------------------------ views
def _view_api(model: Model, view: Any, qualified: bool) -> dict[str, Any]:
    module = model.modules[view.module_id]
    name = view.name
    if qualified and view.id != module.id:
        name = f"{module.name}.{view.name}"
    return {"code": "", "id": view.id, "name": name, "moduleId": module.id}


def _views_of(model: Model, module_id: str | None) -> list[Any]:
    out: list[Any] = []
    for module in model.modules.values():
        if module_id is not None and module.id != module_id:
            continue
        out.append(find_view(model, module.id)[0])
        out.extend(v for v in model.transactional.views.values() if v.module_id == module.id)
    return out


async def list_module_views(request: Request) -> Response:
    state, model = open_model(request)
    module = _module(model, request.path_params["moduleId"])
    views = _views_of(model, module.id)
    return page_of(request, state, views, lambda v: _view_api(model, v, False), "views", None, "view")


async def list_views(request: Request) -> Response:
    state, model = open_model(request)
    views = _views_of(model, None)
    return page_of(request, state, views, lambda v: _view_api(model, v, True), "views", None, "view")


async def view_info(request: Request) -> Response:
    """``GET .../views/{viewId}``: axes with dimension ids and names (empty axes omitted)."""
    _, model = open_model(request)
    view, module = find_view(model, request.path_params["viewId"])
    body = envelope(request, None, "view", viewName=view.name, viewId=view.id)
    dims = {d.name: d for d in module_dims(model, module)}
    for axis in ("rows", "columns", "pages"):
        names = getattr(view, axis)
        if names:
            body[axis] = [dims[n].api() for n in names]
    return json_response(body)


async def view_dimension_items(request: Request) -> Response:
    """Items of a view dimension as the view shows them (its filter applied)."""
    _, model = open_model(request)
    view, module = find_view(model, request.path_params["viewId"])
    key = request.path_params["dimensionId"]
    dim = next((d for d in module_dims(model, module) if d.id == key), None)
    if dim is None:
        raise ApiError(404, f"Dimension {key} not found in view {view.id} or no access")
    names = dim.names()
    shown = view.filters.get(dim.name)
    if shown is not None:
        allowed = set(shown)
        names = [n for n in names if n in allowed]
    return _items_body(request, model, dim, names)


# ------------------------------------------------------------------------------------- dimensions
def _model_dimension(model: Model, dimension_id: str) -> DimRef:
    dim = model_dimension(model, dimension_id)
    if dim is None:
        raise ApiError(404, f"Dimension {dimension_id} not found or no access")
    if not dim.is_list:
        raise ApiError(
            400,
            f"Dimension {dimension_id} ({dim.name}) is not a list: model-level item calls do not support "
            "Time or fixed dimensions; use GET .../views/{viewId}/dimensions/{dimensionId}/items",
        )
    return dim


async def dimension_items(request: Request) -> Response:
    _, model = open_model(request)
    dim = _model_dimension(model, request.path_params["dimensionId"])
    return _items_body(request, model, dim)


async def lookup_dimension_items(request: Request) -> Response:
    """``POST .../dimensions/{id}/items`` ``{"names": [...], "codes": [...]}`` (case-insensitive)."""
    _, model = open_model(request)
    dim = _model_dimension(model, request.path_params["dimensionId"])
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be an object with 'names' and/or 'codes'")
    names, codes = body.get("names") or [], body.get("codes") or []
    if not isinstance(names, list) or not isinstance(codes, list) or not (names or codes):
        raise ApiError(400, "Provide a non-empty 'names' or 'codes' array")
    lst = model.lists[str(dim.list_id)]
    ids = ensure_ids(model, lst).ids
    members = lst.items
    out = envelope(request, None, "dimension")
    items = out["items"] = []
    for name in fold_index(model, lst).find(names, codes):
        body = {"id": ids[name], "name": name}
        code = members[name].get("code")
        if code:
            body["code"] = code
        items.append(body)
    return json_response(out)


# ------------------------------------------------------------------------------------------ lists
async def list_lists(request: Request) -> Response:
    state, model = open_model(request)
    return page_of(
        request,
        state,
        list(model.lists.values()),
        lambda x: {"id": x.id, "name": x.name},
        "lists",
        model.id,
        "list",
    )


async def list_metadata(request: Request) -> Response:
    _, model = open_model(request)
    lst = _list(model, request.path_params["listId"])
    extras = ensure_ids(model, lst)
    meta: dict[str, Any] = {
        "id": lst.id,
        "name": lst.name,
        "properties": [
            {"name": p, "format": _FORMATS.get(k, "TEXT"), "notes": "", "referencedBy": ""}
            for p, k in lst.properties.items()
        ],
        "hasSelectiveAccess": False,
        "managedBy": "",
        "numberedList": extras.numbered,
        "useTopLevelAsPageDefault": False,
        "itemCount": len(lst.items),
        "workflowEnabled": False,
        "productionData": extras.production,
        "permittedItems": max(0, 999_999_999 - len(lst.items)),
    }
    if extras.parent_list_id and extras.parent_list_id in model.lists:
        parent = model.lists[extras.parent_list_id]
        meta["parent"] = {"id": parent.id, "name": parent.name}
    if extras.subsets:
        meta["subsets"] = [{"id": extras.subset_ids[s], "name": s} for s in extras.subsets]
    if extras.numbered:
        meta["nextitemIndex"] = extras.next_index
    return json_response(envelope(request, model.id, "list", metadata=meta))
