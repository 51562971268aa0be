"""View reads and large-volume read requests (views and lists), as methods of AnaplanAsyncClient.

* Plain view reads (``GET /models/{model}/views/{view}/data``, JSON or CSV) return at most 1,000,000
  cells of the selected page; above that Anaplan answers 400 (:class:`AnaplanViewTooLargeError`).
* Large-volume reads: ``POST …/{views|lists}/{id}/readRequests`` creates a request, its status gives
  ``requestState`` and ``availablePages``, ``GET …/pages/{n}`` returns page *n* as CSV (pages can be
  fetched while the request is still running), ``DELETE`` removes it. :meth:`iter_read_request_pages`
  streams the pages in order, ``config.max_concurrency`` in flight (memory: that many pages);
  ``iter_large_view``/``download_large_view`` (and the list twins) create the request and **always**
  delete it afterwards — on success, failure, timeout or cancellation.

Pages concatenate to one CSV file: when a later page repeats page 0's header line it is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_anaplan.client.http import AmbiguousRequestError
from airflow_provider_anaplan.client.status import TaskResult, TaskState, TaskStatus, parse_successful
from airflow_provider_anaplan.client.transactional_common import (
    MAX_VIEW_READ_CELLS,
    clean_id,
    to_frame,
    unwrap_ambiguous,
)
from airflow_provider_anaplan.client.transactional_results import ReadResult
from airflow_provider_anaplan.exceptions import (
    AnaplanBadRequestError,
    AnaplanConfigError,
    AnaplanNotFoundError,
    AnaplanReadRequestError,
    AnaplanTaskTimeoutError,
    AnaplanViewTooLargeError,
)

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["EXPORT_TYPES", "TransactionalReadsMixin", "pages_param", "read_request_status"]

log = logging.getLogger(__name__)

EXPORT_TYPES = ("TABULAR_MULTI_COLUMN", "TABULAR_SINGLE_COLUMN", "GRID_ALL_PAGES")
Source = Literal["views", "lists"]
PageSelection = Mapping[str, str] | Iterable[str] | Iterable[tuple[str, str]] | None


def _source(source: str) -> str:
    text = str(source).strip().lower()
    text = {"view": "views", "list": "lists"}.get(text, text)
    if text not in ("views", "lists"):
        raise AnaplanConfigError(f"read request source must be 'views' or 'lists', got {source!r}")
    return text


def pages_param(pages: PageSelection) -> list[str]:
    """Page selectors as ``dimensionId:itemId`` strings (from a dict, pairs, or such strings)."""
    if pages is None:
        return []
    if isinstance(pages, Mapping):
        pairs = list(pages.items())
    else:
        pairs = []
        for entry in pages:
            if isinstance(entry, str):
                dim, sep, item = entry.partition(":")
                if not sep:
                    raise AnaplanConfigError(f"page selector {entry!r} must be 'dimensionId:itemId'")
                pairs.append((dim, item))
            else:
                dim, item = entry
                pairs.append((dim, item))
    return [f"{clean_id(d, 'page dimension id')}:{clean_id(i, 'page item id')}" for d, i in pairs]


def read_request_status(source: str, object_id: str, body: Mapping[str, Any]) -> TaskStatus:
    """A read request's answer as a job status (THE outcome rule judges it: COMPLETE is a success only
    with ``successful: true``; CANCELLED means it was deleted)."""
    rr = body.get("viewReadRequest") or body.get("listReadRequest") or body
    rr = rr if isinstance(rr, Mapping) else {}
    successful = parse_successful(rr.get("successful"))
    state = TaskState(rr.get("requestState") or "UNKNOWN")
    result = TaskResult(object_id=object_id, successful=successful, failure_dump_available=False) if "successful" in rr else None
    pages = rr.get("availablePages")
    return TaskStatus(
        task_id=str(rr.get("requestId") or ""),
        action_id=object_id,
        state=state,
        current_step=f"{pages} page(s) available" if pages is not None else None,
        successful=successful,
        object_id=object_id,
        raw={**dict(rr), "source": source},
        result=result,
    )


class TransactionalReadsMixin:
    """View data and large-volume reads (async; part of AnaplanAsyncClient)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...
        @property
        def model_url(self) -> str: ...
        @property
        def model_direct_url(self) -> str: ...
        async def _get(self, url: str, object_id: str | None = None, **kwargs: Any) -> dict[str, Any]: ...
        async def get_view_info(self, view_id: str | int) -> dict[str, Any]: ...
        async def get_view_dimension_items(self, view_id: str | int, dimension_id: str | int) -> list[dict[str, Any]]: ...

    # ---- plain view reads -------------------------------------------------------------------------
    async def get_view_data(
        self, view_id: str | int, pages: PageSelection = None, format: Literal["json", "csv"] = "json", escaped: bool = False
    ) -> Any:
        """One page of a view (at most 1,000,000 cells): ``format="json"`` the ``ViewData`` dict
        (``pages``, ``columnCoordinates``, ``rows``), ``"csv"`` Anaplan's grid CSV as bytes.

        :param pages: page selectors ``{dimension_id: item_id}`` (or ``"dim:item"`` strings).
        :raises AnaplanViewTooLargeError: the page holds more than 1,000,000 cells (use
            :meth:`download_large_view`).
        """
        if format not in ("json", "csv"):
            raise AnaplanConfigError(f"format must be 'json' or 'csv', got {format!r}")
        vid = clean_id(view_id, "view_id")
        params: dict[str, Any] = {}
        selectors = pages_param(pages)
        if selectors:
            params["pages"] = selectors
        if format == "json":
            params["format"] = "v1"
            accept = "application/json"
        else:
            accept = "text/csv;escaped=true" if escaped else "text/csv"
        try:
            response = await self.session.request(
                "GET", f"{self.model_direct_url}/views/{vid}/data", object_id=vid, params=params, headers={"Accept": accept}
            )
        except AnaplanBadRequestError as exc:
            if "cell" in (exc.anaplan_message or "").lower():
                raise AnaplanViewTooLargeError(
                    f"{exc.message}. A plain read returns at most {MAX_VIEW_READ_CELLS:,} cells: use a large-volume "
                    "read (download_large_view / AnaplanReadViewOperator(large=True))",
                    status_code=exc.status_code, object_id=vid, anaplan_message=exc.anaplan_message,
                    method=exc.method, path=exc.path,
                ) from None
            raise
        return response.json() if format == "json" else response.content

    async def iter_view_rows(
        self,
        view_id: str | int,
        pages: PageSelection = None,
        rows: Iterable[str] | None = None,
        columns: Iterable[str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """A view page as flat rows: ``{<row dimension>: label, …, <column label>: value, …}`` (a
        column label of several column dimensions is joined with ``" / "``); ``rows``/``columns`` keep
        only rows with one of those labels and those columns."""
        info = await self.get_view_info(view_id)
        data = await self.get_view_data(view_id, pages, "json")
        row_dims = [str(d.get("name")) for d in info.get("rows") or []]
        page_dims = [str(d.get("name")) for d in info.get("pages") or []]
        labels = [" / ".join(c) if isinstance(c, list) else str(c) for c in data.get("columnCoordinates") or []]
        keep_rows = set(rows) if rows is not None else None
        keep_cols = set(columns) if columns is not None else None
        chosen = [(i, label) for i, label in enumerate(labels) if keep_cols is None or label in keep_cols]
        page_values = list(data.get("pages") or [])
        for row in data.get("rows") or []:
            coords = [str(c) for c in row.get("rowCoordinates") or []]
            if keep_rows is not None and not keep_rows.intersection(coords):
                continue
            cells = row.get("cells") or []
            out: dict[str, Any] = dict(zip(page_dims, page_values, strict=False))
            out.update(zip(row_dims or [f"row{i}" for i in range(len(coords))], coords, strict=False))
            out.update((label, cells[i] if i < len(cells) else None) for i, label in chosen)
            yield out

    async def get_view_data_frame(
        self, view_id: str | int, pages: PageSelection = None, library: Literal["polars", "pandas"] = "polars"
    ) -> Any:
        """A view page as a polars or pandas DataFrame (the rows of :meth:`iter_view_rows`)."""
        return to_frame([row async for row in self.iter_view_rows(view_id, pages)], library)

    async def count_view_cells(self, view_id: str | int) -> int:
        """Cells of one page of a view (rows x columns as the view shows them): above 1,000,000 a plain
        read is refused and a large-volume read is needed."""
        info = await self.get_view_info(view_id)
        total = 1
        for dim in [*(info.get("rows") or []), *(info.get("columns") or [])]:
            total *= max(1, len(await self.get_view_dimension_items(view_id, dim["id"])))
        return total

    # ---- read requests ----------------------------------------------------------------------------
    def _rr_url(self, source: str, object_id: str | int) -> tuple[str, str, str]:
        src = _source(source)
        oid = clean_id(object_id, "view_id" if src == "views" else "list_id")
        return src, oid, f"{self.model_url}/{src}/{oid}/readRequests"

    async def start_read_request(self, source: str, object_id: str | int, export_type: str | None = None) -> str:
        """Create a large-volume read request of a view (``source="views"``, with ``export_type`` one of
        TABULAR_MULTI_COLUMN (default), TABULAR_SINGLE_COLUMN, GRID_ALL_PAGES) or a list; return its id.
        Delete it afterwards (:meth:`delete_read_request`): Anaplan keeps it otherwise for 30 minutes."""
        src, oid, url = self._rr_url(source, object_id)
        body: dict[str, Any] | None = None
        if src == "views":
            kind = export_type or "TABULAR_MULTI_COLUMN"
            if kind not in EXPORT_TYPES:
                raise AnaplanConfigError(f"export_type must be one of {', '.join(EXPORT_TYPES)}, got {export_type!r}")
            body = {"exportType": kind}
        elif export_type is not None:
            raise AnaplanConfigError("export_type applies to view read requests only")
        try:
            response = await self.session.request("POST", url, idempotent=False, object_id=oid, json=body)
        except AmbiguousRequestError as exc:
            raise unwrap_ambiguous(exc, "the read request (Anaplan deletes unused ones after 30 minutes)") from None
        status = read_request_status(src, oid, response.json())
        if not status.task_id:
            raise AnaplanReadRequestError(f"Read request of {src[:-1]} {oid}: Anaplan answered without a requestId", object_id=oid)
        log.info("Started read request %s of %s %s", status.task_id, src[:-1], oid)
        return status.task_id

    async def get_read_request_status(self, source: str, object_id: str | int, request_id: str) -> TaskStatus:
        """One status poll of a read request (job kind ``read_request``)."""
        src, oid, url = self._rr_url(source, object_id)
        body = await self._get(f"{url}/{request_id}", oid)
        return read_request_status(src, oid, body)

    async def delete_read_request(self, source: str, object_id: str | int, request_id: str) -> None:
        """Delete (or cancel) a read request and its pages; one already gone is not an error."""
        src, oid, url = self._rr_url(source, object_id)
        try:
            await self.session.request("DELETE", f"{url}/{request_id}", object_id=oid)
        except AnaplanNotFoundError:
            log.info("Read request %s of %s %s was already gone", request_id, src[:-1], oid)
            return
        log.info("Deleted read request %s of %s %s", request_id, src[:-1], oid)

    async def get_read_request_page(self, source: str, object_id: str | int, request_id: str, page: int) -> bytes:
        """Page ``page`` (0-based) of a read request, CSV bytes."""
        src, oid, url = self._rr_url(source, object_id)
        response = await self.session.request(
            "GET", f"{url}/{request_id}/pages/{int(page)}", object_id=oid, headers={"Accept": "text/csv"}
        )
        return response.content

    async def iter_read_request_pages(
        self, source: str, object_id: str | int, request_id: str, timeout: float | None = None  # noqa: ASYNC109
    ) -> AsyncIterator[bytes]:
        """Yield every page of a read request in order as it becomes available (the request is not deleted).

        :raises AnaplanReadRequestError: it ended COMPLETE without ``successful: true``, or CANCELLED.
        :raises AnaplanTaskTimeoutError: not complete after ``timeout`` seconds.
        """
        src, oid, _ = self._rr_url(source, object_id)
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        window: collections.deque[asyncio.Future[bytes]] = collections.deque()
        limit = max(1, self.config.max_concurrency)
        next_page = 0
        header: bytes | None = None
        polls = 0
        try:
            while True:
                status = await self.get_read_request_status(src, oid, request_id)
                outcome = status.outcome
                if outcome.is_terminal and not outcome.is_success:
                    verdict = status.verdict()
                    raise AnaplanReadRequestError(
                        f"Read request {request_id} of {src[:-1]} {oid} ended {status.state.value}: {verdict.reason}; "
                        "start a new one", status=status, object_id=oid,
                    )
                available = int(status.raw.get("availablePages") or 0)
                if available > next_page:
                    polls = 0  # pages are coming: keep the next waits short
                # fetch what is available (``limit`` pages in flight, written in order); once every
                # available page is asked for, look for more after each page instead of draining first
                while next_page < available or window:
                    while next_page < available and len(window) < limit:
                        window.append(asyncio.ensure_future(self.get_read_request_page(src, oid, request_id, next_page)))
                        next_page += 1
                    first = header is None
                    data = await window.popleft()
                    if first:
                        header = data.split(b"\n", 1)[0] + b"\n"
                    elif header and data.startswith(header):
                        data = data[len(header):]
                    if data and not data.endswith(b"\n"):
                        data += b"\n"
                    if data:
                        yield data
                    if next_page >= available and window and not outcome.is_terminal:
                        break
                if outcome.is_success and next_page >= available and not window:
                    return
                if window:
                    continue
                if deadline is not None and time.monotonic() >= deadline:
                    raise AnaplanTaskTimeoutError(
                        f"Read request {request_id} of {src[:-1]} {oid} is still {status.state.value} after {timeout:g} s",
                        status=status, object_id=oid,
                    )
                # short first waits (a small read is ready in well under a second), then config.poll_interval
                await asyncio.sleep(min(self.config.poll_interval, 0.1 * 2**polls))
                polls = min(polls + 1, 16)
        finally:
            for future in window:
                future.cancel()

    async def _large(self, source: str, object_id: str | int, export_type: str | None, timeout: float | None) -> AsyncIterator[bytes]:  # noqa: ASYNC109
        request_id = await self.start_read_request(source, object_id, export_type)
        try:
            async with contextlib.aclosing(self.iter_read_request_pages(source, object_id, request_id, timeout)) as pages:  # type: ignore[type-var]
                async for data in pages:
                    yield data
        finally:
            await asyncio.shield(self._delete_quietly(source, object_id, request_id))

    async def _delete_quietly(self, source: str, object_id: str | int, request_id: str) -> None:
        try:
            await self.delete_read_request(source, object_id, request_id)
        except Exception as exc:  # the original outcome matters more; Anaplan reclaims it after 30 min
            log.warning("Could not delete read request %s (%s); Anaplan removes it after 30 minutes", request_id, exc)

    async def iter_large_view(
        self, view_id: str | int, export_type: str = "TABULAR_MULTI_COLUMN", timeout: float | None = None  # noqa: ASYNC109
    ) -> AsyncIterator[bytes]:
        """A whole view as CSV bytes through a large-volume read request (created, streamed, deleted)."""
        async with contextlib.aclosing(self._large("views", view_id, export_type, timeout)) as stream:  # type: ignore[type-var]
            async for data in stream:
                yield data

    async def iter_large_list(self, list_id: str | int, timeout: float | None = None) -> AsyncIterator[bytes]:  # noqa: ASYNC109
        """A whole list as CSV bytes through a large-volume read request (created, streamed, deleted)."""
        async with contextlib.aclosing(self._large("lists", list_id, None, timeout)) as stream:  # type: ignore[type-var]
            async for data in stream:
                yield data

    async def download_read_request(
        self, source: str, object_id: str | int, request_id: str, destination: object, timeout: float | None = None  # noqa: ASYNC109
    ) -> ReadResult:
        """Write every page of an existing read request to ``destination`` (a path — a ``str`` is always a
        path —, an ``ObjectStoragePath``, or a binary file object); the request is not deleted."""
        src = _source(source)
        result = ReadResult(source=src, object_id=str(object_id), request_id=request_id, destination=_name(destination))

        async def counted() -> AsyncIterator[bytes]:
            async with contextlib.aclosing(self.iter_read_request_pages(src, object_id, request_id, timeout)) as pages:  # type: ignore[type-var]
                async for data in pages:
                    result.pages += 1
                    yield data

        async with contextlib.aclosing(counted()) as chunks:  # type: ignore[type-var]
            result.bytes = await write_destination(chunks, destination)
        log.info("Wrote %d bytes of read request %s to %s", result.bytes, request_id, result.destination)
        return result

    async def _download_large(
        self, source: str, object_id: str | int, destination: object, export_type: str | None, timeout: float | None  # noqa: ASYNC109
    ) -> ReadResult:
        request_id = await self.start_read_request(source, object_id, export_type)
        try:
            return await self.download_read_request(source, object_id, request_id, destination, timeout)
        finally:
            await asyncio.shield(self._delete_quietly(source, object_id, request_id))

    async def download_large_view(
        self, view_id: str | int, destination: object, export_type: str = "TABULAR_MULTI_COLUMN", timeout: float | None = None  # noqa: ASYNC109
    ) -> ReadResult:
        """A whole view to ``destination`` as CSV through a large-volume read; the request is always deleted."""
        return await self._download_large("views", view_id, destination, export_type, timeout)

    async def download_large_list(self, list_id: str | int, destination: object, timeout: float | None = None) -> ReadResult:  # noqa: ASYNC109
        """A whole list to ``destination`` as CSV through a large-volume read; the request is always deleted."""
        return await self._download_large("lists", list_id, destination, None, timeout)


def _name(destination: object) -> str:
    return str(getattr(destination, "name", None) if hasattr(destination, "write") else destination)


async def write_destination(chunks: AsyncIterator[bytes], destination: object) -> int:
    """Write ``chunks`` to a path/``ObjectStoragePath`` atomically (``transfer.write_stream``) or to a
    binary file object as they come; return the byte count."""
    if hasattr(destination, "write") and not hasattr(destination, "open"):
        written = 0
        async for data in chunks:
            await asyncio.to_thread(destination.write, data)
            written += len(data)
        return written
    from airflow_provider_anaplan.client import transfer

    return await transfer.write_stream(chunks, destination)
