"""Transactional API of the emulator (metadata, lists, cells, views, read requests, model open/close).

Every route is served under both ``/2/0/workspaces/{workspaceId}/models/{modelId}/...`` and
``/2/0/models/{modelId}/...`` (the spec lists one or both forms per endpoint; Anaplan answers both).
See ``docs/emulator.md`` ("Transactional API") for the behaviour and the choices where the spec is silent.
"""

from __future__ import annotations

from starlette.routing import Route

from . import readrequests as rr
from . import transactional_cells as cells
from . import transactional_list_reads as list_reads
from . import transactional_lists as lists
from . import transactional_meta as meta
from . import transactional_model as model_api

__all__ = ["transactional_routes"]


def _model_routes(base: str) -> list[Route]:
    view = f"{base}/views/{{viewId}}"
    lst = f"{base}/lists/{{listId}}"
    return [
        Route(f"{base}/modules", meta.list_modules, methods=["GET"]),
        Route(f"{base}/modules/{{moduleId}}/lineItems", meta.list_module_line_items, methods=["GET"]),
        Route(f"{base}/modules/{{moduleId}}/views", meta.list_module_views, methods=["GET"]),
        Route(f"{base}/modules/{{moduleId}}/data", cells.post_module_data, methods=["POST"]),
        Route(f"{base}/lineItems", meta.list_model_line_items, methods=["GET"]),
        Route(f"{base}/lineItems/{{lineItemId}}/dimensions", meta.line_item_dimensions, methods=["GET"]),
        Route(
            f"{base}/lineItems/{{lineItemId}}/dimensions/{{dimensionId}}/items",
            meta.line_item_dimension_items,
            methods=["GET"],
        ),
        Route(f"{base}/views", meta.list_views, methods=["GET"]),
        Route(view, meta.view_info, methods=["GET"]),
        Route(f"{view}/data", cells.view_data, methods=["GET"]),
        Route(f"{view}/dimensions/{{dimensionId}}/items", meta.view_dimension_items, methods=["GET"]),
        Route(f"{view}/readRequests", rr.create_view_request, methods=["POST"]),
        Route(f"{view}/readRequests/{{requestId}}", rr.get_view_request, methods=["GET"]),
        Route(f"{view}/readRequests/{{requestId}}", rr.delete_view_request, methods=["DELETE"]),
        Route(f"{view}/readRequests/{{requestId}}/pages/{{pageNo}}", rr.get_view_page, methods=["GET"]),
        Route(f"{base}/dimensions/{{dimensionId}}/items", meta.dimension_items, methods=["GET"]),
        Route(f"{base}/dimensions/{{dimensionId}}/items", meta.lookup_dimension_items, methods=["POST"]),
        Route(f"{base}/lists", meta.list_lists, methods=["GET"]),
        Route(lst, meta.list_metadata, methods=["GET"]),
        Route(f"{lst}/items", list_reads.get_items, methods=["GET"]),
        Route(f"{lst}/items", lists.post_items, methods=["POST"]),
        Route(f"{lst}/items", lists.put_items, methods=["PUT"]),
        Route(f"{lst}/resetIndex", lists.reset_index, methods=["POST"]),
        Route(f"{lst}/readRequests", rr.create_list_request, methods=["POST"]),
        Route(f"{lst}/readRequests/{{requestId}}", rr.get_list_request, methods=["GET"]),
        Route(f"{lst}/readRequests/{{requestId}}", rr.delete_list_request, methods=["DELETE"]),
        Route(f"{lst}/readRequests/{{requestId}}/pages/{{pageNo}}", rr.get_list_page, methods=["GET"]),
        Route(f"{base}/currentPeriod", model_api.get_current_period, methods=["GET"]),
        Route(f"{base}/currentPeriod", model_api.set_current_period, methods=["PUT"]),
        Route(f"{base}/modelCalendar", model_api.get_model_calendar, methods=["GET"]),
        Route(f"{base}/modelCalendar/fiscalYear", model_api.set_fiscal_year, methods=["PUT"]),
        Route(f"{base}/open", model_api.open_model_endpoint, methods=["POST"]),
        Route(f"{base}/close", model_api.close_model_endpoint, methods=["POST"]),
    ]


def transactional_routes(api: str) -> list[Route]:
    """Routes under ``api`` (``/2/0``)."""
    return [
        *_model_routes(f"{api}/workspaces/{{workspaceId}}/models/{{modelId}}"),
        *_model_routes(f"{api}/models/{{modelId}}"),
    ]
