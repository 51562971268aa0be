"""Transactional methods of the hooks: written out and typed, each the counterpart of a client method.

:class:`TransactionalHookMethods` is part of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanHook`,
:class:`AsyncTransactionalHookMethods` of :class:`~airflow_provider_anaplan.hooks.anaplan.AnaplanAsyncHook`.
Each is marked with :func:`~airflow_provider_anaplan.hooks.methods.client_method` (same name and parameters
as the client's method). Record sources and destinations follow the one rule
(:func:`~airflow_provider_anaplan.hooks.methods.resolve_path_argument`: a ``str`` is a path or an
object-storage URI, never content); writes from a file and reads to a destination report hook lineage
(the location <-> ``anaplan://<ws>/<MODEL>``). Nothing of the client core is imported at module import.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_anaplan.hooks import lineage
from airflow_provider_anaplan.hooks.methods import client_method, resolve_path_argument

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.status import TaskStatus
    from airflow_provider_anaplan.client.sync import AnaplanClient
    from airflow_provider_anaplan.client.transactional_cells import ItemKey
    from airflow_provider_anaplan.client.transactional_lists import UpsertKey
    from airflow_provider_anaplan.client.transactional_reads import PageSelection
    from airflow_provider_anaplan.client.transactional_results import (
        CellWriteResult,
        ListWriteResult,
        ReadResult,
    )

__all__ = ["AsyncTransactionalHookMethods", "TransactionalHookMethods"]


class TransactionalHookMethods:
    """Sync transactional methods of AnaplanHook (each: ``return self.get_conn().<name>(...)``)."""

    if TYPE_CHECKING:

        def get_conn(self) -> AnaplanClient: ...
        def get_client_config(self) -> ClientConfig: ...
        def _lineage(self, inputs: Iterable[str | None] = (), outputs: Iterable[str | None] = ()) -> None: ...
        @staticmethod
        def _model_uri(config: ClientConfig) -> str | None: ...

    @client_method
    def get_modules(self) -> list[dict[str, Any]]:
        """Modules of the model (``id``, ``name``)."""
        return self.get_conn().get_modules()

    @client_method
    def get_views(self, module_id: str | int | None = None, include_subsidiary_views: bool = False) -> list[dict[str, Any]]:
        """Views of the model, or of one module (``id``, ``name``, ``moduleId``); the default view of a module has the module's id."""
        return self.get_conn().get_views(module_id, include_subsidiary_views)

    @client_method
    def get_view_info(self, view_id: str | int) -> dict[str, Any]:
        """Dimensions on each axis of a view: ``{'viewId', 'viewName', 'rows', 'columns', 'pages'}`` (an empty axis is absent)."""
        return self.get_conn().get_view_info(view_id)

    @client_method
    def get_view_dimension_items(self, view_id: str | int, dimension_id: str | int) -> list[dict[str, Any]]:
        """Items of a dimension as the view shows them (hidden and filtered items left out)."""
        return self.get_conn().get_view_dimension_items(view_id, dimension_id)

    @client_method
    def get_line_items(self, module_id: str | int | None = None, include_all: bool = True) -> list[dict[str, Any]]:
        """Line items of the model or of one module (``includeAll``: format, applies-to, formula...)."""
        return self.get_conn().get_line_items(module_id, include_all)

    @client_method
    def get_line_item_dimensions(self, line_item_id: str | int) -> list[dict[str, Any]]:
        """Dimensions of a line item (``id``, ``name``), Time and Versions included."""
        return self.get_conn().get_line_item_dimensions(line_item_id)

    @client_method
    def get_lists(self) -> list[dict[str, Any]]:
        """Lists of the model (``id``, ``name``)."""
        return self.get_conn().get_lists()

    @client_method
    def get_list_metadata(self, list_id: str | int) -> dict[str, Any]:
        """A list's metadata (properties, parent, ``numberedList``, ``itemCount``, subsets...)."""
        return self.get_conn().get_list_metadata(list_id)

    @client_method
    def get_dimension_items(self, dimension_id: str | int) -> list[dict[str, Any]]:
        """Every item of a list, list subset, line item subset or Users (``id``, ``name``, ``code``); Anaplan refuses dimensions above 1,000,000 items (use a large-volume list read)."""
        return self.get_conn().get_dimension_items(dimension_id)

    @client_method
    def lookup_dimension_items(self, dimension_id: str | int, names: list[str] | None = None, codes: list[str] | None = None) -> list[dict[str, Any]]:
        """Items of a dimension matching ``names`` or ``codes`` (case-insensitive); unknown ones are left out."""
        return self.get_conn().lookup_dimension_items(dimension_id, names, codes)

    @client_method
    def get_current_period(self) -> dict[str, Any]:
        """``{'periodText', 'lastDay', 'calendarType'}`` (empty strings when no current period is set)."""
        return self.get_conn().get_current_period()

    @client_method
    def set_current_period(self, date: str) -> dict[str, Any]:
        """Set the current period to the period containing ``date`` (``YYYY-MM-DD``; ``''`` resets it)."""
        return self.get_conn().set_current_period(date)

    @client_method
    def get_model_calendar(self) -> dict[str, Any]:
        """The model calendar (``fiscalYear`` with start/end dates, calendar type, totals...)."""
        return self.get_conn().get_model_calendar()

    @client_method
    def set_current_fiscal_year(self, year: str) -> dict[str, Any]:
        """Set the current fiscal year (e.g. ``'FY27'``); returns the calendar's ``fiscalYear``."""
        return self.get_conn().set_current_fiscal_year(year)

    @client_method
    def get_model_open_status(self) -> TaskStatus:
        """The model's open state as a job status (the ``model_open`` job kind): see :func:`model_open_status`."""
        return self.get_conn().get_model_open_status()

    @client_method
    def open_model(self) -> None:
        """Ask Anaplan to load the model (returns before it is open; see :meth:`wake_model`)."""
        return self.get_conn().open_model()

    @client_method
    def close_model(self) -> None:
        """Unload the model. Warning: this closes it for every user in it, without notice."""
        return self.get_conn().close_model()

    @client_method
    def wake_model(self, timeout: float | None = 1800.0, poll_interval: float | None = None) -> TaskStatus:
        """Open the model if it is closed and wait until it is open and idle."""
        return self.get_conn().wake_model(timeout, poll_interval)

    @client_method
    def get_list_items(self, list_id: str | int, include_all: bool = True, format: Literal["json", "csv"] = "json") -> Iterator[Any]:
        """Stream a list's items page by page (5,000 a request, bounded memory)."""
        return self.get_conn().get_list_items(list_id, include_all, format)

    @client_method
    def get_list_items_frame(self, list_id: str | int, library: Literal["polars", "pandas"] = "polars") -> Any:
        """A list's items as a polars or pandas DataFrame (flat: properties and subsets as columns)."""
        return self.get_conn().get_list_items_frame(list_id, library)

    @client_method
    def insert_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Add new items (``POST …/items?action=add``); items that exist are rejected (see ``failures``)."""
        items = resolve_path_argument(items, "source")
        result = self.get_conn().insert_list_items(list_id, items)
        cfg = self.get_client_config()
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    def update_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Update existing items identified by ``id``, ``code`` or ``name`` (``PUT …/items``)."""
        items = resolve_path_argument(items, "source")
        result = self.get_conn().update_list_items(list_id, items)
        cfg = self.get_client_config()
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    def upsert_list_items(self, list_id: str | int, items: object, key: UpsertKey = "auto") -> ListWriteResult:
        """Insert the new items and update the existing ones."""
        items = resolve_path_argument(items, "source")
        result = self.get_conn().upsert_list_items(list_id, items, key)
        cfg = self.get_client_config()
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    def delete_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Delete items identified by ``id``, ``code`` or ``name`` (``POST …/items?action=delete``)."""
        items = resolve_path_argument(items, "source")
        result = self.get_conn().delete_list_items(list_id, items)
        cfg = self.get_client_config()
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    def reset_list_index(self, list_id: str | int) -> None:
        """Reset a list's item index to 1 (the list must hold no items; workspace administrators only)."""
        return self.get_conn().reset_list_index(list_id)

    @client_method
    def update_module_data(self, module_id: str | int, cells: object, line_item: str | None = None, item_key: ItemKey = "name") -> CellWriteResult:
        """Write cells of a module, batched under Anaplan's limits; returns the merged result."""
        cells = resolve_path_argument(cells, "source")
        result = self.get_conn().update_module_data(module_id, cells, line_item, item_key)
        cfg = self.get_client_config()
        self._lineage([lineage.location_uri(cells)], [self._model_uri(cfg)])
        return result

    @client_method
    def get_view_data(self, view_id: str | int, pages: PageSelection = None, format: Literal["json", "csv"] = "json", escaped: bool = False) -> Any:
        """One page of a view (at most 1,000,000 cells): ``format='json'`` the ``ViewData`` dict (``pages``, ``columnCoordinates``, ``rows``), ``'csv'`` Anaplan's grid CSV as bytes."""
        return self.get_conn().get_view_data(view_id, pages, format, escaped)

    @client_method
    def iter_view_rows(self, view_id: str | int, pages: PageSelection = None, rows: Iterable[str] | None = None, columns: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """A view page as flat rows: ``{<row dimension>: label, …, <column label>: value, …}`` (a column label of several column dimensions is joined with ``' / '``); ``rows``/``columns`` keep only rows with one of those labels and those columns."""
        return self.get_conn().iter_view_rows(view_id, pages, rows, columns)

    @client_method
    def get_view_data_frame(self, view_id: str | int, pages: PageSelection = None, library: Literal["polars", "pandas"] = "polars") -> Any:
        """A view page as a polars or pandas DataFrame (the rows of :meth:`iter_view_rows`)."""
        return self.get_conn().get_view_data_frame(view_id, pages, library)

    @client_method
    def count_view_cells(self, view_id: str | int) -> int:
        """Cells of one page of a view (rows x columns as the view shows them): above 1,000,000 a plain read is refused and a large-volume read is needed."""
        return self.get_conn().count_view_cells(view_id)

    @client_method
    def start_read_request(self, source: str, object_id: str | int, export_type: str | None = None) -> str:
        """Create a large-volume read request of a view (``source='views'``, with ``export_type`` one of TABULAR_MULTI_COLUMN (default), TABULAR_SINGLE_COLUMN, GRID_ALL_PAGES) or a list; return its id. Delete it afterwards (:meth:`delete_read_request`): Anaplan keeps it otherwise for 30 minutes."""
        return self.get_conn().start_read_request(source, object_id, export_type)

    @client_method
    def get_read_request_status(self, source: str, object_id: str | int, request_id: str) -> TaskStatus:
        """One status poll of a read request (job kind ``read_request``)."""
        return self.get_conn().get_read_request_status(source, object_id, request_id)

    @client_method
    def delete_read_request(self, source: str, object_id: str | int, request_id: str) -> None:
        """Delete (or cancel) a read request and its pages; one already gone is not an error."""
        return self.get_conn().delete_read_request(source, object_id, request_id)

    @client_method
    def get_read_request_page(self, source: str, object_id: str | int, request_id: str, page: int) -> bytes:
        """Page ``page`` (0-based) of a read request, CSV bytes."""
        return self.get_conn().get_read_request_page(source, object_id, request_id, page)

    @client_method
    def iter_read_request_pages(self, source: str, object_id: str | int, request_id: str, timeout: float | None = None) -> Iterator[bytes]:
        """Yield every page of a read request in order as it becomes available (the request is not deleted)."""
        return self.get_conn().iter_read_request_pages(source, object_id, request_id, timeout)

    @client_method
    def iter_large_view(self, view_id: str | int, export_type: str = "TABULAR_MULTI_COLUMN", timeout: float | None = None) -> Iterator[bytes]:
        """A whole view as CSV bytes through a large-volume read request (created, streamed, deleted)."""
        return self.get_conn().iter_large_view(view_id, export_type, timeout)

    @client_method
    def iter_large_list(self, list_id: str | int, timeout: float | None = None) -> Iterator[bytes]:
        """A whole list as CSV bytes through a large-volume read request (created, streamed, deleted)."""
        return self.get_conn().iter_large_list(list_id, timeout)

    @client_method
    def download_read_request(self, source: str, object_id: str | int, request_id: str, destination: object, timeout: float | None = None) -> ReadResult:
        """Write every page of an existing read request to ``destination`` (a path — a ``str`` is always a path —, an ``ObjectStoragePath``, or a binary file object); the request is not deleted."""
        destination = resolve_path_argument(destination, "destination")
        result = self.get_conn().download_read_request(source, object_id, request_id, destination, timeout)
        cfg = self.get_client_config()
        self._lineage([self._model_uri(cfg)], [lineage.location_uri(destination)])
        return result

    @client_method
    def download_large_view(self, view_id: str | int, destination: object, export_type: str = "TABULAR_MULTI_COLUMN", timeout: float | None = None) -> ReadResult:
        """A whole view to ``destination`` as CSV through a large-volume read; the request is always deleted."""
        destination = resolve_path_argument(destination, "destination")
        result = self.get_conn().download_large_view(view_id, destination, export_type, timeout)
        cfg = self.get_client_config()
        self._lineage([self._model_uri(cfg)], [lineage.location_uri(destination)])
        return result

    @client_method
    def download_large_list(self, list_id: str | int, destination: object, timeout: float | None = None) -> ReadResult:
        """A whole list to ``destination`` as CSV through a large-volume read; the request is always deleted."""
        destination = resolve_path_argument(destination, "destination")
        result = self.get_conn().download_large_list(list_id, destination, timeout)
        cfg = self.get_client_config()
        self._lineage([self._model_uri(cfg)], [lineage.location_uri(destination)])
        return result


class AsyncTransactionalHookMethods:
    """Async transactional methods of AnaplanAsyncHook (each: ``await (await self._shared_client()).<name>(...)``)."""

    if TYPE_CHECKING:

        async def _shared_client(self) -> AnaplanAsyncClient: ...
        def _lineage(self, inputs: Iterable[str | None] = (), outputs: Iterable[str | None] = ()) -> None: ...
        @staticmethod
        def _model_uri(config: ClientConfig) -> str | None: ...

    @client_method
    async def get_modules(self) -> list[dict[str, Any]]:
        """Modules of the model (``id``, ``name``)."""
        return await (await self._shared_client()).get_modules()

    @client_method
    async def get_views(self, module_id: str | int | None = None, include_subsidiary_views: bool = False) -> list[dict[str, Any]]:
        """Views of the model, or of one module (``id``, ``name``, ``moduleId``); the default view of a module has the module's id."""
        return await (await self._shared_client()).get_views(module_id, include_subsidiary_views)

    @client_method
    async def get_view_info(self, view_id: str | int) -> dict[str, Any]:
        """Dimensions on each axis of a view: ``{'viewId', 'viewName', 'rows', 'columns', 'pages'}`` (an empty axis is absent)."""
        return await (await self._shared_client()).get_view_info(view_id)

    @client_method
    async def get_view_dimension_items(self, view_id: str | int, dimension_id: str | int) -> list[dict[str, Any]]:
        """Items of a dimension as the view shows them (hidden and filtered items left out)."""
        return await (await self._shared_client()).get_view_dimension_items(view_id, dimension_id)

    @client_method
    async def get_line_items(self, module_id: str | int | None = None, include_all: bool = True) -> list[dict[str, Any]]:
        """Line items of the model or of one module (``includeAll``: format, applies-to, formula...)."""
        return await (await self._shared_client()).get_line_items(module_id, include_all)

    @client_method
    async def get_line_item_dimensions(self, line_item_id: str | int) -> list[dict[str, Any]]:
        """Dimensions of a line item (``id``, ``name``), Time and Versions included."""
        return await (await self._shared_client()).get_line_item_dimensions(line_item_id)

    @client_method
    async def get_lists(self) -> list[dict[str, Any]]:
        """Lists of the model (``id``, ``name``)."""
        return await (await self._shared_client()).get_lists()

    @client_method
    async def get_list_metadata(self, list_id: str | int) -> dict[str, Any]:
        """A list's metadata (properties, parent, ``numberedList``, ``itemCount``, subsets...)."""
        return await (await self._shared_client()).get_list_metadata(list_id)

    @client_method
    async def get_dimension_items(self, dimension_id: str | int) -> list[dict[str, Any]]:
        """Every item of a list, list subset, line item subset or Users (``id``, ``name``, ``code``); Anaplan refuses dimensions above 1,000,000 items (use a large-volume list read)."""
        return await (await self._shared_client()).get_dimension_items(dimension_id)

    @client_method
    async def lookup_dimension_items(self, dimension_id: str | int, names: list[str] | None = None, codes: list[str] | None = None) -> list[dict[str, Any]]:
        """Items of a dimension matching ``names`` or ``codes`` (case-insensitive); unknown ones are left out."""
        return await (await self._shared_client()).lookup_dimension_items(dimension_id, names, codes)

    @client_method
    async def get_current_period(self) -> dict[str, Any]:
        """``{'periodText', 'lastDay', 'calendarType'}`` (empty strings when no current period is set)."""
        return await (await self._shared_client()).get_current_period()

    @client_method
    async def set_current_period(self, date: str) -> dict[str, Any]:
        """Set the current period to the period containing ``date`` (``YYYY-MM-DD``; ``''`` resets it)."""
        return await (await self._shared_client()).set_current_period(date)

    @client_method
    async def get_model_calendar(self) -> dict[str, Any]:
        """The model calendar (``fiscalYear`` with start/end dates, calendar type, totals...)."""
        return await (await self._shared_client()).get_model_calendar()

    @client_method
    async def set_current_fiscal_year(self, year: str) -> dict[str, Any]:
        """Set the current fiscal year (e.g. ``'FY27'``); returns the calendar's ``fiscalYear``."""
        return await (await self._shared_client()).set_current_fiscal_year(year)

    @client_method
    async def get_model_open_status(self) -> TaskStatus:
        """The model's open state as a job status (the ``model_open`` job kind): see :func:`model_open_status`."""
        return await (await self._shared_client()).get_model_open_status()

    @client_method
    async def open_model(self) -> None:
        """Ask Anaplan to load the model (returns before it is open; see :meth:`wake_model`)."""
        return await (await self._shared_client()).open_model()

    @client_method
    async def close_model(self) -> None:
        """Unload the model. Warning: this closes it for every user in it, without notice."""
        return await (await self._shared_client()).close_model()

    @client_method
    async def wake_model(self, timeout: float | None = 1800.0, poll_interval: float | None = None) -> TaskStatus:  # noqa: ASYNC109
        """Open the model if it is closed and wait until it is open and idle."""
        return await (await self._shared_client()).wake_model(timeout, poll_interval)

    @client_method
    async def get_list_items(self, list_id: str | int, include_all: bool = True, format: Literal["json", "csv"] = "json") -> AsyncIterator[Any]:
        """Stream a list's items page by page (5,000 a request, bounded memory)."""
        client = await self._shared_client()
        async with contextlib.aclosing(client.get_list_items(list_id, include_all, format)) as stream:  # type: ignore[type-var]
            async for row in stream:
                yield row

    @client_method
    async def get_list_items_frame(self, list_id: str | int, library: Literal["polars", "pandas"] = "polars") -> Any:
        """A list's items as a polars or pandas DataFrame (flat: properties and subsets as columns)."""
        return await (await self._shared_client()).get_list_items_frame(list_id, library)

    @client_method
    async def insert_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Add new items (``POST …/items?action=add``); items that exist are rejected (see ``failures``)."""
        items = resolve_path_argument(items, "source")
        client = await self._shared_client()
        result = await client.insert_list_items(list_id, items)
        cfg = client.config
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    async def update_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Update existing items identified by ``id``, ``code`` or ``name`` (``PUT …/items``)."""
        items = resolve_path_argument(items, "source")
        client = await self._shared_client()
        result = await client.update_list_items(list_id, items)
        cfg = client.config
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    async def upsert_list_items(self, list_id: str | int, items: object, key: UpsertKey = "auto") -> ListWriteResult:
        """Insert the new items and update the existing ones."""
        items = resolve_path_argument(items, "source")
        client = await self._shared_client()
        result = await client.upsert_list_items(list_id, items, key)
        cfg = client.config
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    async def delete_list_items(self, list_id: str | int, items: object) -> ListWriteResult:
        """Delete items identified by ``id``, ``code`` or ``name`` (``POST …/items?action=delete``)."""
        items = resolve_path_argument(items, "source")
        client = await self._shared_client()
        result = await client.delete_list_items(list_id, items)
        cfg = client.config
        self._lineage([lineage.location_uri(items)], [self._model_uri(cfg)])
        return result

    @client_method
    async def reset_list_index(self, list_id: str | int) -> None:
        """Reset a list's item index to 1 (the list must hold no items; workspace administrators only)."""
        return await (await self._shared_client()).reset_list_index(list_id)

    @client_method
    async def update_module_data(self, module_id: str | int, cells: object, line_item: str | None = None, item_key: ItemKey = "name") -> CellWriteResult:
        """Write cells of a module, batched under Anaplan's limits; returns the merged result."""
        cells = resolve_path_argument(cells, "source")
        client = await self._shared_client()
        result = await client.update_module_data(module_id, cells, line_item, item_key)
        cfg = client.config
        self._lineage([lineage.location_uri(cells)], [self._model_uri(cfg)])
        return result

    @client_method
    async def get_view_data(self, view_id: str | int, pages: PageSelection = None, format: Literal["json", "csv"] = "json", escaped: bool = False) -> Any:
        """One page of a view (at most 1,000,000 cells): ``format='json'`` the ``ViewData`` dict (``pages``, ``columnCoordinates``, ``rows``), ``'csv'`` Anaplan's grid CSV as bytes."""
        return await (await self._shared_client()).get_view_data(view_id, pages, format, escaped)

    @client_method
    async def iter_view_rows(self, view_id: str | int, pages: PageSelection = None, rows: Iterable[str] | None = None, columns: Iterable[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """A view page as flat rows: ``{<row dimension>: label, …, <column label>: value, …}`` (a column label of several column dimensions is joined with ``' / '``); ``rows``/``columns`` keep only rows with one of those labels and those columns."""
        client = await self._shared_client()
        async with contextlib.aclosing(client.iter_view_rows(view_id, pages, rows, columns)) as stream:  # type: ignore[type-var]
            async for row in stream:
                yield row

    @client_method
    async def get_view_data_frame(self, view_id: str | int, pages: PageSelection = None, library: Literal["polars", "pandas"] = "polars") -> Any:
        """A view page as a polars or pandas DataFrame (the rows of :meth:`iter_view_rows`)."""
        return await (await self._shared_client()).get_view_data_frame(view_id, pages, library)

    @client_method
    async def count_view_cells(self, view_id: str | int) -> int:
        """Cells of one page of a view (rows x columns as the view shows them): above 1,000,000 a plain read is refused and a large-volume read is needed."""
        return await (await self._shared_client()).count_view_cells(view_id)

    @client_method
    async def start_read_request(self, source: str, object_id: str | int, export_type: str | None = None) -> str:
        """Create a large-volume read request of a view (``source='views'``, with ``export_type`` one of TABULAR_MULTI_COLUMN (default), TABULAR_SINGLE_COLUMN, GRID_ALL_PAGES) or a list; return its id. Delete it afterwards (:meth:`delete_read_request`): Anaplan keeps it otherwise for 30 minutes."""
        return await (await self._shared_client()).start_read_request(source, object_id, export_type)

    @client_method
    async def get_read_request_status(self, source: str, object_id: str | int, request_id: str) -> TaskStatus:
        """One status poll of a read request (job kind ``read_request``)."""
        return await (await self._shared_client()).get_read_request_status(source, object_id, request_id)

    @client_method
    async def delete_read_request(self, source: str, object_id: str | int, request_id: str) -> None:
        """Delete (or cancel) a read request and its pages; one already gone is not an error."""
        return await (await self._shared_client()).delete_read_request(source, object_id, request_id)

    @client_method
    async def get_read_request_page(self, source: str, object_id: str | int, request_id: str, page: int) -> bytes:
        """Page ``page`` (0-based) of a read request, CSV bytes."""
        return await (await self._shared_client()).get_read_request_page(source, object_id, request_id, page)

    @client_method
    async def iter_read_request_pages(self, source: str, object_id: str | int, request_id: str, timeout: float | None = None) -> AsyncIterator[bytes]:  # noqa: ASYNC109
        """Yield every page of a read request in order as it becomes available (the request is not deleted)."""
        client = await self._shared_client()
        async with contextlib.aclosing(client.iter_read_request_pages(source, object_id, request_id, timeout)) as stream:  # type: ignore[type-var]
            async for row in stream:
                yield row

    @client_method
    async def iter_large_view(self, view_id: str | int, export_type: str = "TABULAR_MULTI_COLUMN", timeout: float | None = None) -> AsyncIterator[bytes]:  # noqa: ASYNC109
        """A whole view as CSV bytes through a large-volume read request (created, streamed, deleted)."""
        client = await self._shared_client()
        async with contextlib.aclosing(client.iter_large_view(view_id, export_type, timeout)) as stream:  # type: ignore[type-var]
            async for row in stream:
                yield row

    @client_method
    async def iter_large_list(self, list_id: str | int, timeout: float | None = None) -> AsyncIterator[bytes]:  # noqa: ASYNC109
        """A whole list as CSV bytes through a large-volume read request (created, streamed, deleted)."""
        client = await self._shared_client()
        async with contextlib.aclosing(client.iter_large_list(list_id, timeout)) as stream:  # type: ignore[type-var]
            async for row in stream:
                yield row

    @client_method
    async def download_read_request(self, source: str, object_id: str | int, request_id: str, destination: object, timeout: float | None = None) -> ReadResult:  # noqa: ASYNC109
        """Write every page of an existing read request to ``destination`` (a path — a ``str`` is always a path —, an ``ObjectStoragePath``, or a binary file object); the request is not deleted."""
        destination = resolve_path_argument(destination, "destination")
        client = await self._shared_client()
        result = await client.download_read_request(source, object_id, request_id, destination, timeout)
        cfg = client.config
        self._lineage([self._model_uri(cfg)], [lineage.location_uri(destination)])
        return result

    @client_method
    async def download_large_view(self, view_id: str | int, destination: object, export_type: str = "TABULAR_MULTI_COLUMN", timeout: float | None = None) -> ReadResult:  # noqa: ASYNC109
        """A whole view to ``destination`` as CSV through a large-volume read; the request is always deleted."""
        destination = resolve_path_argument(destination, "destination")
        client = await self._shared_client()
        result = await client.download_large_view(view_id, destination, export_type, timeout)
        cfg = client.config
        self._lineage([self._model_uri(cfg)], [lineage.location_uri(destination)])
        return result

    @client_method
    async def download_large_list(self, list_id: str | int, destination: object, timeout: float | None = None) -> ReadResult:  # noqa: ASYNC109
        """A whole list to ``destination`` as CSV through a large-volume read; the request is always deleted."""
        destination = resolve_path_argument(destination, "destination")
        client = await self._shared_client()
        result = await client.download_large_list(list_id, destination, timeout)
        cfg = client.config
        self._lineage([self._model_uri(cfg)], [lineage.location_uri(destination)])
        return result
