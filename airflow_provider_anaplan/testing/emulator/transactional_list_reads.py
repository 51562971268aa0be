"""List items over the transactional API: reading them (JSON pages, CSV) and their CSV rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .csvio import format_value
from .responses import ApiError
from .state import ListDef, Model
from .state.transactional import ListExtras
from .transactional_common import flag, open_model, page_of
from .transactional_dims import ensure_ids

_ROWS_PER_CHUNK = 2000


def list_of(model: Model, list_id: str) -> ListDef:
    """The list ``list_id`` of the model (404 otherwise)."""
    lst = model.lists.get(list_id)
    if lst is None:
        raise ApiError(404, f"List {list_id} not found or no access")
    return lst


def item_api(model: Model, lst: ListDef, extras: ListExtras, name: str, full: bool) -> dict[str, Any]:
    """One member as ``GET .../items`` shows it (``full``: with ``subsets`` and ``properties``)."""
    data = lst.items[name]
    body: dict[str, Any] = {"id": extras.ids[name], "name": name}
    if data.get("code"):
        body["code"] = data["code"]
    parent = extras.parents.get(name)
    if parent is not None and extras.parent_list_id in model.lists:
        plist = model.lists[extras.parent_list_id]
        pextras = model.transactional.list_extras(plist.id)
        body["parent"] = parent
        if parent in pextras.ids:
            body["parentId"] = pextras.ids[parent]
        body["listId"] = plist.id
        body["listName"] = plist.name
    if full:
        body["subsets"] = {s: name in members for s, members in extras.subsets.items()}
        body["properties"] = {p: format_value(data.get(p)) for p in lst.properties}
    return body


def csv_header(lst: ListDef, extras: ListExtras, full: bool) -> list[str]:
    header = ["id", "name", "code", "parent", "parentId", "listId", "listName"]
    if full:
        header += list(lst.properties) + list(extras.subsets)
    return header


def csv_row(model: Model, lst: ListDef, extras: ListExtras, name: str, full: bool) -> list[str] | None:
    """A member as a CSV row (``None`` when it was deleted since)."""
    data = lst.items.get(name)
    if data is None:
        return None
    parent = extras.parents.get(name, "")
    parent_id = list_id = list_name = ""
    if parent and extras.parent_list_id in model.lists:
        plist = model.lists[extras.parent_list_id]
        parent_id = model.transactional.list_extras(plist.id).ids.get(parent, "")
        list_id, list_name = plist.id, plist.name
    row = [extras.ids.get(name, ""), name, data.get("code", ""), parent, parent_id, list_id, list_name]
    if full:
        row += [format_value(data.get(p)) for p in lst.properties]
        row += ["true" if name in members else "false" for members in extras.subsets.values()]
    return row


def render_csv(rows: Iterator[list[str]]) -> Iterator[bytes]:
    """CSV text (``QUOTE_MINIMAL``, ``\\n`` line ends) in chunks of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count >= _ROWS_PER_CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            count = 0
    if buffer.tell():
        yield buffer.getvalue().encode()


async def get_items(request: Request) -> Response:
    """``GET .../lists/{listId}/items``: JSON paged (``limit``/``offset``), or all of it as CSV."""
    state, model = open_model(request)
    lst = list_of(model, request.path_params["listId"])
    extras = ensure_ids(model, lst)
    full = flag(request, "includeAll")
    names = list(lst.items)
    if "text/csv" in request.headers.get("accept", ""):
        offset = int(request.query_params.get("offset") or 0)
        limit = request.query_params.get("limit")
        chosen = names[offset : offset + int(limit)] if limit else names[offset:]

        def rows() -> Iterator[list[str]]:
            yield csv_header(lst, extras, full)
            for name in chosen:
                row = csv_row(model, lst, extras, name, full)
                if row is not None:
                    yield row

        return StreamingResponse(render_csv(rows()), media_type="text/csv")
    return page_of(
        request, state, names, lambda n: item_api(model, lst, extras, n, full), "listItems", None, "list"
    )
