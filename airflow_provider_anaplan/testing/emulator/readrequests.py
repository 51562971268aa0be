"""Large-volume read requests of views and lists: create, status, pages (CSV), delete.

A request moves NOT_STARTED -> IN_PROGRESS -> COMPLETE with time (``read_request_start_seconds``,
``read_request_pages_per_second``); ``availablePages`` grows meanwhile and those pages can be fetched.
As Anaplan does, the pages are prepared while the request runs: a producer (one worker thread at a
time, so no more parallelism than one model has) renders them in order into bytes, at most
``_AHEAD_PAGES`` pages / ``_AHEAD_BYTES`` bytes not yet fetched, so ``GET …/pages/{n}`` serves bytes.
A page fetched again, or one the producer has not reached, is rendered again deterministically (row by
row, streamed), so a 5,000,000-cell view is never held whole. Deleting the request drops its pages.
The CSV header is on page 0 only: the pages, concatenated in order, are one CSV file.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .responses import ApiError, base_url, envelope, json_response
from .state import Model
from .state.transactional import ReadRequest
from .transactional_common import json_body, open_model
from .transactional_dims import ensure_ids, find_view
from .transactional_grid import Grid
from .transactional_list_reads import csv_header, csv_row

EXPORT_TYPES = ("TABULAR_MULTI_COLUMN", "TABULAR_SINGLE_COLUMN", "GRID_ALL_PAGES")
_LINES_PER_CHUNK = 1000
#: Pages the producer renders ahead of the fetches, and the bytes they may hold.
_AHEAD_PAGES = 4
_AHEAD_BYTES = 64 * 1024 * 1024


def _url(request: Request, model: Model, kind: str, object_id: str, request_id: str) -> str:
    return (
        f"{base_url(request)}/2/0/workspaces/{model.workspace_id}/models/{model.id}/{kind}s/{object_id}"
        f"/readRequests/{request_id}"
    )


def _api(request: Request, model: Model, rr: ReadRequest, full: bool = True) -> dict[str, Any]:
    state, available = _progress(model, rr)
    body: dict[str, Any] = {"requestId": rr.id}
    if rr.kind == "view":
        body["viewId"] = int(rr.object_id) if rr.object_id.isdigit() else rr.object_id
    else:
        body["listId"] = rr.object_id
    body["requestState"] = state
    body["url"] = _url(request, model, rr.kind, rr.object_id, rr.id)
    if full:
        body["availablePages"] = available
        body["successful"] = state == "COMPLETE" and available == rr.total_pages
    return body


def _respond(request: Request, model: Model, rr: ReadRequest, full: bool = True) -> Response:
    key = "viewReadRequest" if rr.kind == "view" else "listReadRequest"
    return json_response(envelope(request, None, key, **{key: _api(request, model, rr, full)}))


def _progress(model: Model, rr: ReadRequest) -> tuple[str, int]:
    """``(requestState, availablePages)``: the request's clock, and no further than the pages prepared."""
    state, available = rr.progress(model.transactional.settings)
    producer = _Producer.of(model, rr)
    if producer is not None and not producer.broken and state not in ("NOT_STARTED", "CANCELLED"):
        if producer.produced < available:
            return "IN_PROGRESS", producer.produced
    return state, available


def _fail_at(model: Model) -> int | None:
    fail_after = model.transactional.settings.read_request_fail_after_pages
    return fail_after if fail_after >= 0 else None


def _new_id() -> str:
    return uuid.uuid4().hex.upper()


async def create_view_request(request: Request) -> Response:
    """``POST .../views/{viewId}/readRequests`` (optional body ``{"exportType": ...}``)."""
    _, model = open_model(request)
    view_id = request.path_params["viewId"]
    view, module = find_view(model, view_id)
    body = await json_body(request)
    export_type = "TABULAR_MULTI_COLUMN"
    if isinstance(body, dict) and body.get("exportType") is not None:
        export_type = str(body["exportType"])
        if export_type not in EXPORT_TYPES:
            raise ApiError(400, f"Invalid exportType {export_type!r}: use one of {', '.join(EXPORT_TYPES)}")
    grid = Grid(model, view, module)
    settings = model.transactional.settings
    columns = max(grid.columns.size, 1)
    if export_type == "TABULAR_SINGLE_COLUMN":
        lines, page_rows = (
            grid.pages.size * grid.rows.size * columns,
            max(1, settings.read_request_page_cells),
        )
    else:
        lines = grid.pages.size * grid.rows.size
        page_rows = max(1, settings.read_request_page_cells // columns)
    rr = ReadRequest(
        id=_new_id(),
        kind="view",
        object_id=view_id,
        model_id=model.id,
        created=time.monotonic(),
        total_pages=max(1, math.ceil(lines / page_rows)),
        page_rows=page_rows,
        snapshot={"exportType": export_type, "lines": lines},
        fail_at=_fail_at(model),
    )
    model.transactional.read_requests[rr.id] = rr
    _Producer.start(model, rr)
    return _respond(request, model, rr, full=False)


async def create_list_request(request: Request) -> Response:
    """``POST .../lists/{listId}/readRequests``: the list's members as of now."""
    _, model = open_model(request)
    list_id = request.path_params["listId"]
    lst = model.lists.get(list_id)
    if lst is None:
        raise ApiError(404, f"List {list_id} not found or no access")
    ensure_ids(model, lst)
    names = list(lst.items)
    settings = model.transactional.settings
    page_rows = max(1, settings.read_request_page_items)
    rr = ReadRequest(
        id=_new_id(),
        kind="list",
        object_id=list_id,
        model_id=model.id,
        created=time.monotonic(),
        total_pages=max(1, math.ceil(len(names) / page_rows)),
        page_rows=page_rows,
        snapshot=names,
        fail_at=_fail_at(model),
    )
    model.transactional.read_requests[rr.id] = rr
    _Producer.start(model, rr)
    return _respond(request, model, rr, full=False)


def _find(request: Request, model: Model, kind: str) -> ReadRequest:
    request_id = request.path_params["requestId"]
    object_id = request.path_params["viewId" if kind == "view" else "listId"]
    rr = model.transactional.read_requests.get(request_id)
    if rr is None or rr.kind != kind or rr.object_id != object_id:
        raise ApiError(404, f"Read request {request_id} not found or no access")
    return rr


async def get_view_request(request: Request) -> Response:
    _, model = open_model(request)
    return _respond(request, model, _find(request, model, "view"))


async def get_list_request(request: Request) -> Response:
    _, model = open_model(request)
    return _respond(request, model, _find(request, model, "list"))


async def _delete(request: Request, kind: str) -> Response:
    _, model = open_model(request)
    rr = _find(request, model, kind)
    rr.state_override = "CANCELLED"
    response = _respond(request, model, rr)
    del model.transactional.read_requests[rr.id]
    _Producer.stop(model, rr)
    return response


async def delete_view_request(request: Request) -> Response:
    return await _delete(request, "view")


async def delete_list_request(request: Request) -> Response:
    return await _delete(request, "list")


def _page_number(request: Request, model: Model, rr: ReadRequest) -> int:
    raw = request.path_params["pageNo"]
    try:
        page = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid page number {raw!r}") from None
    state, available = _progress(model, rr)
    if page < 0 or page >= rr.total_pages:
        raise ApiError(404, f"Page {raw} of read request {rr.id} not found (pages 0-{rr.total_pages - 1})")
    if page >= available and state == "COMPLETE":
        raise ApiError(404, f"Page {page} of read request {rr.id} does not exist: the read request failed")
    if page >= available:
        raise ApiError(
            404, f"Page {page} of read request {rr.id} is not available yet ({available} available)"
        )
    return page


def _line(row: list[str]) -> str:
    """One CSV line (``QUOTE_MINIMAL``): a plain join unless a field holds a comma, quote or line break."""
    text = ",".join(row)
    if text.count(",") == len(row) - 1 and '"' not in text and "\n" not in text and "\r" not in text:
        return text + "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    return buffer.getvalue()


def _csv(rows: Iterator[list[str]]) -> Iterator[bytes]:
    chunk: list[str] = []
    for row in rows:
        chunk.append(_line(row))
        if len(chunk) >= _LINES_PER_CHUNK:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()


def _view_rows(grid: Grid, rr: ReadRequest, page: int) -> Iterator[list[str]]:
    """Lines of one page (runs in a worker thread: only reads cells, the grid is built beforehand)."""
    export_type = rr.snapshot["exportType"]
    lines = rr.snapshot["lines"]
    page_dims = [d.name for d in grid.pages.dims]
    row_dims = [d.name for d in grid.rows.dims]
    labels = list(grid.column_labels())
    if page == 0:
        if export_type == "TABULAR_SINGLE_COLUMN":
            yield page_dims + row_dims + [d.name for d in grid.columns.dims] + ["Value"]
        else:
            yield page_dims + row_dims + [" ".join(c) for c in labels]
    prepared = grid._columns_prepared()
    start, end = page * rr.page_rows, min(lines, (page + 1) * rr.page_rows)
    nrows, ncols = max(grid.rows.size, 1), max(len(labels), 1)
    if export_type == "TABULAR_SINGLE_COLUMN":
        line = start
        while line < end:
            block, col = divmod(line, ncols)
            combo, row = divmod(block, nrows)
            decoded = grid.pages.decode(combo)
            row_labels, values = grid.row_values(decoded, row, prepared)
            lead = grid.pages.labels(combo) + row_labels
            for c in range(col, min(ncols, col + end - line)):
                yield lead + labels[c] + [values[c]]
            line += ncols - col
        return
    for line in range(start, end):
        combo, row = divmod(line, nrows)
        row_labels, values = grid.row_values(grid.pages.decode(combo), row, prepared)
        yield grid.pages.labels(combo) + row_labels + values


def _list_rows(model: Model, rr: ReadRequest, page: int) -> Iterator[list[str]]:
    lst = model.lists.get(rr.object_id)
    if lst is None:
        raise ApiError(404, f"List {rr.object_id} not found or no access")
    extras = model.transactional.list_extras(lst.id)
    if page == 0:
        yield csv_header(lst, extras, True)
    for name in rr.snapshot[page * rr.page_rows : (page + 1) * rr.page_rows]:
        row = csv_row(model, lst, extras, name, True)
        if row is not None:
            yield row


def _page_chunks(model: Model, rr: ReadRequest, page: int) -> Iterator[bytes]:
    """Page ``page`` as CSV chunks (the grid is built here: call it on the event loop, iterate anywhere)."""
    if rr.kind == "view":
        view, module = find_view(model, rr.object_id)
        return _csv(_view_rows(Grid(model, view, module), rr, page))
    if rr.object_id not in model.lists:
        raise ApiError(404, f"List {rr.object_id} not found or no access")
    return _csv(_list_rows(model, rr, page))


class _Producer:
    """Renders a read request's pages in order while it runs (see the module docstring)."""

    def __init__(self, model: Model, rr: ReadRequest) -> None:
        self.model = model
        self.rr = rr
        self.ready: dict[int, asyncio.Future[bytes]] = {}
        self.produced = 0  # pages prepared (held in ``ready``, handed out, or left to be rendered again)
        self.broken = False  # rendering failed: pages are rendered when fetched (and answer the error)
        self.task: asyncio.Task[None] | None = None

    @staticmethod
    def _key(rr: ReadRequest) -> str:
        return f"readRequestPages:{rr.id}"

    @classmethod
    def start(cls, model: Model, rr: ReadRequest) -> None:
        producer = cls(model, rr)
        model.transactional.caches[cls._key(rr)] = producer
        producer.task = asyncio.get_running_loop().create_task(producer.run())

    @classmethod
    def of(cls, model: Model, rr: ReadRequest) -> _Producer | None:
        producer = model.transactional.caches.get(cls._key(rr))
        return producer if isinstance(producer, cls) else None

    @classmethod
    def stop(cls, model: Model, rr: ReadRequest) -> None:
        producer = model.transactional.caches.pop(cls._key(rr), None)
        if isinstance(producer, cls):
            producer.close()

    @classmethod
    def take(cls, model: Model, rr: ReadRequest, page: int) -> asyncio.Future[bytes] | None:
        """The future of page ``page`` if the producer rendered it or is rendering it (handed out once)."""
        producer = cls.of(model, rr)
        return None if producer is None else producer.ready.pop(page, None)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        for future in self.ready.values():
            future.cancel()
        self.ready.clear()

    def _held(self) -> int:
        return sum(
            len(f.result())
            for f in self.ready.values()
            if f.done() and not f.cancelled() and f.exception() is None
        )

    async def run(self) -> None:
        rr = self.rr
        last = rr.total_pages if rr.fail_at is None else min(rr.total_pages, rr.fail_at)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(asyncio.CancelledError):
            for page in range(last):
                if rr.id not in self.model.transactional.read_requests:
                    return
                # past the bound (a client waiting for COMPLETE), a page is prepared, not kept: its GET renders it again
                keep = len(self.ready) < _AHEAD_PAGES and self._held() < _AHEAD_BYTES
                future: asyncio.Future[bytes] = loop.create_future()
                if keep:
                    self.ready[page] = future
                try:
                    chunks = _page_chunks(self.model, rr, page)
                    data = await anyio.to_thread.run_sync(b"".join, chunks)
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                except Exception:  # pages are rendered when fetched from now on (and answer the error)
                    self.ready.pop(page, None)
                    future.cancel()
                    self.broken = True
                    return
                if not future.done():
                    future.set_result(data)
                if not keep:
                    del data
                self.produced = page + 1


async def _serve(request: Request, kind: str) -> Response:
    _, model = open_model(request)
    rr = _find(request, model, kind)
    page = _page_number(request, model, rr)
    future = _Producer.take(model, rr, page)
    if future is not None:
        try:
            return Response(await asyncio.shield(future), media_type="text/csv")
        except asyncio.CancelledError:  # the page's future (the request was deleted), or this handler
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except Exception:  # noqa: S110 - rendered again below, where the error is answered
            pass
        rr = _find(request, model, kind)  # deleted meanwhile: 404
    return StreamingResponse(_page_chunks(model, rr, page), media_type="text/csv")


async def get_view_page(request: Request) -> Response:
    """``GET .../views/{viewId}/readRequests/{requestId}/pages/{pageNo}``: CSV."""
    return await _serve(request, "view")


async def get_list_page(request: Request) -> Response:
    """``GET .../lists/{listId}/readRequests/{requestId}/pages/{pageNo}``: CSV."""
    return await _serve(request, "list")
