"""View data reads (CSV grid or JSON) and module cell writes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .responses import ApiError, json_response
from .state import Model
from .transactional_common import gc_paused, json_body, open_model
from .transactional_dims import find_view, line_items, module_dims
from .transactional_grid import Grid

_ROWS_PER_CHUNK = 1000


def parse_pages(request: Request) -> dict[str, str]:
    """``pages=dimId:itemId`` selectors, repeated and/or comma separated."""
    chosen: dict[str, str] = {}
    for raw in request.query_params.getlist("pages"):
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            dim_id, sep, item_id = part.partition(":")
            if not sep or not dim_id or not item_id:
                raise ApiError(400, f"Invalid page selector [{part}]: use dimensionId:itemId")
            chosen[dim_id] = item_id
    return chosen


def _line(fields: list[str], escaped: bool) -> str:
    if not escaped:
        return ",".join(fields) + "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def _csv_grid(grid: Grid, escaped: bool) -> Iterator[bytes]:
    """Anaplan's grid CSV: page items line, one line per column dimension, then label(s) + values."""
    lead = [""] * len(grid.rows.dims)
    head = []
    if grid.pages.dims:
        head.append(_line(grid.page_labels(), escaped))
    labels = list(grid.column_labels())
    for k in range(len(grid.columns.dims)):
        head.append(_line(lead + [c[k] for c in labels], escaped))
    yield "".join(head).encode()
    prepared = grid._columns_prepared()
    chunk: list[str] = []
    for row in range(grid.rows.size):
        row_labels, values = grid.row_values(grid.selection, row, prepared)
        chunk.append(_line(row_labels + values, escaped))
        if len(chunk) >= _ROWS_PER_CHUNK:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


async def view_data(request: Request) -> Response:
    """``GET .../views/{viewId}/data``: CSV by default; JSON with ``Accept: application/json`` + ``format=v1``."""
    _, model = open_model(request)
    view, module = find_view(model, request.path_params["viewId"])
    grid = Grid(model, view, module, parse_pages(request))
    limit = model.transactional.settings.max_view_read_cells
    if grid.cell_count() > limit:
        raise ApiError(
            400,
            f"View {view.id} has {grid.cell_count():,} cells on the selected page, more than the {limit:,} "
            "a cell data read returns; use a large-volume read request (POST .../views/{viewId}/readRequests)",
        )
    accept = request.headers.get("accept", "")
    if "application/json" in accept and request.query_params.get("format") == "v1":
        prepared = grid._columns_prepared()
        rows = []
        for row in range(grid.rows.size):
            labels, values = grid.row_values(grid.selection, row, prepared)
            rows.append({"rowCoordinates": labels, "cells": values})
        body = {"pages": grid.page_labels(), "columnCoordinates": list(grid.column_labels()), "rows": rows}
        return json_response(body)
    escaped = "escaped=true" in accept.replace(" ", "").lower()
    return StreamingResponse(_csv_grid(grid, escaped), media_type="text/csv")


# ------------------------------------------------------------------------------------- cell writes
class CellFailure(Exception):
    def __init__(self, kind: str, details: str) -> None:
        super().__init__(details)
        self.kind = kind
        self.details = details


def _typed(data_type: str, value: Any) -> Any:
    if value is None:
        raise CellFailure("INVALID_VALUE", "The value is missing or null")
    if data_type == "number":
        if isinstance(value, bool):
            raise CellFailure("INVALID_VALUE", f"Value {value!r} is not a number")
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise CellFailure("INVALID_VALUE", f"Value {value!r} is not a number") from None
    if data_type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise CellFailure("INVALID_VALUE", f"Value {value!r} is not a boolean")
    if isinstance(value, (dict, list)):
        raise CellFailure("INVALID_VALUE", "The value must be a string, number or boolean")
    return value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def write_cells(model: Model, module: Any, cells: list[Any]) -> tuple[int, list[dict[str, Any]]]:
    """Write cells by line item + dimension items (ids, names or codes); returns (changed, failures)."""
    dims = module_dims(model, module)
    indexes = [d.index() for d in dims]
    slot_of: dict[tuple[str, str], int] = {}
    for position, dim in enumerate(dims):
        slot_of[("id", dim.id)] = position
        slot_of[("name", dim.name)] = position
    items = line_items(module)
    by_id = {i.id: i for i in items}
    by_name = {i.name: i for i in items}
    changed = 0
    failures: list[dict[str, Any]] = []
    for index, cell in enumerate(cells):
        try:
            if not isinstance(cell, dict):
                raise CellFailure("INVALID_REQUEST", "A cell write must be an object")
            if cell.get("lineItemId") is not None:
                item = by_id.get(str(cell["lineItemId"]))
                what = f"id {cell['lineItemId']}"
            else:
                item = by_name.get(str(cell.get("lineItemName")))
                what = f"name {cell.get('lineItemName')!r}"
            if item is None:
                raise CellFailure("INVALID_LINE_ITEM", f"No line item with {what} in module {module.name}")
            if not item.primary:
                raise CellFailure("READ_ONLY", f"Line item {item.name} holds no data in the emulator")
            key: list[str | None] = [None] * len(dims)
            for coord in cell.get("dimensions") or []:
                if not isinstance(coord, dict):
                    raise CellFailure("INVALID_DIMENSION", "A dimension coordinate must be an object")
                slot: int | None
                if coord.get("dimensionId") is not None:
                    slot = slot_of.get(("id", str(coord["dimensionId"])))
                    dim_what = f"id {coord['dimensionId']}"
                else:
                    slot = slot_of.get(("name", str(coord.get("dimensionName"))))
                    dim_what = f"name {coord.get('dimensionName')!r}"
                if slot is None:
                    raise CellFailure(
                        "INVALID_DIMENSION", f"Line item {item.name} has no dimension with {dim_what}"
                    )
                name = indexes[slot].resolve(
                    coord.get("itemId"), coord.get("itemName"), coord.get("itemCode")
                )
                if name is None:
                    given = {k: v for k, v in coord.items() if k.startswith("item")}
                    raise CellFailure("INVALID_ITEM", f"No item {given} in dimension {dims[slot].name}")
                key[slot] = name
            missing = [dims[s].name for s, v in enumerate(key) if v is None]
            if missing:
                raise CellFailure(
                    "MISSING_DIMENSION", f"No item given for dimension(s): {', '.join(missing)}"
                )
            if "value" not in cell:
                raise CellFailure("INVALID_VALUE", "The value is missing")
            value = _typed(item.data_type, cell["value"])
        except CellFailure as exc:
            failures.append(
                {"requestIndex": index, "failureType": exc.kind, "failureMessageDetails": exc.details}
            )
            continue
        module.cells[tuple(k for k in key if k is not None)] = value
        changed += 1
    return changed, failures


async def post_module_data(request: Request) -> Response:
    """``POST .../modules/{moduleId}/data``: at most 100,000 cells and 15 MB a call (400 above)."""
    _, model = open_model(request, write=True)
    module = model.modules.get(request.path_params["moduleId"])
    if module is None:
        raise ApiError(404, f"Module {request.path_params['moduleId']} not found or no access")
    settings = model.transactional.settings
    raw = await request.body()
    if len(raw) > settings.max_cell_bytes_per_call:
        raise ApiError(
            400,
            f"The request body is {len(raw):,} bytes, more than the {settings.max_cell_bytes_per_call:,} "
            "a cell write accepts (send the cells in several calls)",
        )
    body = await json_body(request, raw)
    if not isinstance(body, list):
        raise ApiError(400, "The request body must be a JSON array of cell writes")
    if len(body) > settings.max_cells_per_call:
        raise ApiError(
            400,
            f"Too many cells in one call: {len(body):,}; the maximum is {settings.max_cells_per_call:,} cells "
            "per call (send them in several calls)",
        )
    with gc_paused():
        changed, failures = write_cells(model, module, body)
    return json_response({"numberOfCellsChanged": changed, "failures": failures})
