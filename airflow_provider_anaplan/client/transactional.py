"""TransactionalMixin: the transactional API (metadata, lists, cells, views, large-volume read requests, model open/close).

Async methods here are part of :class:`~airflow_provider_anaplan.client.bulk.AnaplanAsyncClient`
(it inherits this mixin, made of one sub-mixin per area: ``transactional_meta.py``,
``transactional_lists.py``, ``transactional_cells.py``, ``transactional_reads.py``);
:class:`TransactionalFace` lists their blocking versions for
:class:`~airflow_provider_anaplan.client.sync.AnaplanClient`. One implementation of each step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_anaplan.client.faces import Blocking, Streaming, SyncFace
from airflow_provider_anaplan.client.transactional_cells import TransactionalCellsMixin
from airflow_provider_anaplan.client.transactional_lists import TransactionalListsMixin
from airflow_provider_anaplan.client.transactional_meta import TransactionalMetaMixin
from airflow_provider_anaplan.client.transactional_reads import TransactionalReadsMixin

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["TRANSACTIONAL_METHODS", "TransactionalFace", "TransactionalMixin"]


class TransactionalMixin(
    TransactionalMetaMixin, TransactionalListsMixin, TransactionalCellsMixin, TransactionalReadsMixin
):
    """Async transactional methods of AnaplanAsyncClient (uses its session, config and helpers)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...


T = TransactionalMixin


class TransactionalFace(SyncFace):
    """Blocking versions of :class:`TransactionalMixin`'s methods (``name = Blocking(TransactionalMixin.name)``)."""

    # metadata
    get_modules = Blocking(T.get_modules)
    get_views = Blocking(T.get_views)
    get_view_info = Blocking(T.get_view_info)
    get_view_dimension_items = Blocking(T.get_view_dimension_items)
    get_line_items = Blocking(T.get_line_items)
    get_line_item_dimensions = Blocking(T.get_line_item_dimensions)
    get_lists = Blocking(T.get_lists)
    get_list_metadata = Blocking(T.get_list_metadata)
    get_dimension_items = Blocking(T.get_dimension_items)
    lookup_dimension_items = Blocking(T.lookup_dimension_items)
    get_current_period = Blocking(T.get_current_period)
    set_current_period = Blocking(T.set_current_period)
    get_model_calendar = Blocking(T.get_model_calendar)
    set_current_fiscal_year = Blocking(T.set_current_fiscal_year)
    # model lifecycle
    get_model_open_status = Blocking(T.get_model_open_status)
    open_model = Blocking(T.open_model)
    close_model = Blocking(T.close_model)
    wake_model = Blocking(T.wake_model)
    # lists
    get_list_items = Streaming(T.get_list_items)
    get_list_items_frame = Blocking(T.get_list_items_frame)
    insert_list_items = Blocking(T.insert_list_items)
    update_list_items = Blocking(T.update_list_items)
    upsert_list_items = Blocking(T.upsert_list_items)
    delete_list_items = Blocking(T.delete_list_items)
    reset_list_index = Blocking(T.reset_list_index)
    # cells
    update_module_data = Blocking(T.update_module_data)
    # views and read requests
    get_view_data = Blocking(T.get_view_data)
    iter_view_rows = Streaming(T.iter_view_rows)
    get_view_data_frame = Blocking(T.get_view_data_frame)
    count_view_cells = Blocking(T.count_view_cells)
    start_read_request = Blocking(T.start_read_request)
    get_read_request_status = Blocking(T.get_read_request_status)
    delete_read_request = Blocking(T.delete_read_request)
    get_read_request_page = Blocking(T.get_read_request_page)
    iter_read_request_pages = Streaming(T.iter_read_request_pages)
    iter_large_view = Streaming(T.iter_large_view)
    iter_large_list = Streaming(T.iter_large_list)
    download_read_request = Blocking(T.download_read_request)
    download_large_view = Blocking(T.download_large_view)
    download_large_list = Blocking(T.download_large_list)


#: The public transactional methods (the hooks write each of them out; a test checks the lists agree).
TRANSACTIONAL_METHODS: tuple[str, ...] = tuple(
    name for name, value in vars(TransactionalFace).items() if isinstance(value, (Blocking, Streaming))
)
