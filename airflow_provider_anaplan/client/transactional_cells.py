"""Cell writes (``POST /models/{model}/modules/{module}/data``) as a method of AnaplanAsyncClient.

Cells are cut into calls of at most 100,000 cells **and** 15 MB of JSON (whichever comes first, as
Anaplan documents), sent ``config.max_concurrency`` at a time, and the answers merged into one
:class:`~.transactional_results.CellWriteResult` (every failure with its cell and Anaplan's reason).

A cell is Anaplan's ``CellWrite`` (``lineItemId``/``lineItemName``, ``dimensions`` of
``{dimensionId|dimensionName, itemId|itemName|itemCode}``, ``value``) or a flat record: ``line_item``
(or ``lineItemName``/``lineItemId``), ``value``, and one key per dimension name whose value is the
item's name (``item_key="code"``/``"id"`` to give codes or ids). CSV columns work the same way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_anaplan.client.transactional_common import (
    MAX_CELL_BYTES_PER_CALL,
    MAX_CELLS_PER_CALL,
    aiter_records,
    clean_id,
    json_bytes,
    run_bounded,
)
from airflow_provider_anaplan.client.transactional_results import CellWriteResult
from airflow_provider_anaplan.exceptions import AnaplanConfigError

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.config import ClientConfig
    from airflow_provider_anaplan.client.http import HttpSession

__all__ = ["TransactionalCellsMixin", "cell_write"]

log = logging.getLogger(__name__)
_LINE_ITEM_KEYS = {"lineitemid", "lineitemname", "line_item", "line item", "lineitem"}
_JSON = {"Content-Type": "application/json"}
ItemKey = Literal["name", "code", "id"]


def cell_write(record: Mapping[str, Any], line_item: str | None = None, item_key: ItemKey = "name") -> dict[str, Any]:
    """Anaplan's ``CellWrite`` of a record (see the module docstring)."""
    if "dimensions" in record:
        cell = dict(record)
        if line_item and "lineItemId" not in cell and "lineItemName" not in cell:
            cell["lineItemName"] = line_item
    else:
        cell = {}
        dims = []
        for key, value in record.items():
            lower = str(key).strip().lower()
            if lower == "value":
                continue
            if lower in _LINE_ITEM_KEYS:
                cell["lineItemId" if lower == "lineitemid" else "lineItemName"] = str(value)
                continue
            field = {"name": "itemName", "code": "itemCode", "id": "itemId"}[item_key]
            dims.append({"dimensionName": str(key), field: str(value)})
        if "lineItemId" not in cell and "lineItemName" not in cell:
            if not line_item:
                raise AnaplanConfigError(f"cell {record!r:.200} names no line item: add a 'line_item' key or pass line_item=")
            cell["lineItemName"] = line_item
        if dims:
            cell["dimensions"] = dims
        if "value" in record:
            cell["value"] = record["value"]
        elif "Value" in record:
            cell["value"] = record["Value"]
    if cell.get("value") is None:
        raise AnaplanConfigError(f"cell {record!r:.200} has no value (Anaplan needs a string, number or boolean)")
    return cell


class TransactionalCellsMixin:
    """Module cell writes (async; part of AnaplanAsyncClient)."""

    if TYPE_CHECKING:
        config: ClientConfig

        @property
        def session(self) -> HttpSession: ...
        @property
        def model_direct_url(self) -> str: ...

    #: cells per call and JSON bytes per call (Anaplan: 100,000 cells or 15 MB, whichever is lower)
    max_cells_per_call = MAX_CELLS_PER_CALL
    max_cell_bytes_per_call = MAX_CELL_BYTES_PER_CALL

    async def update_module_data(
        self, module_id: str | int, cells: object, line_item: str | None = None, item_key: ItemKey = "name"
    ) -> CellWriteResult:
        """Write cells of a module, batched under Anaplan's limits; returns the merged result.

        :param cells: ``CellWrite`` dicts or flat records (iterable/async iterable, DataFrame, or CSV).
        :param line_item: line item name for records that name none.
        :param item_key: what the flat records' dimension values are: item ``name``, ``code`` or ``id``.
        """
        if item_key not in ("name", "code", "id"):
            raise AnaplanConfigError(f"item_key must be 'name', 'code' or 'id', got {item_key!r}")
        mid = clean_id(module_id, "module_id")
        url = f"{self.model_direct_url}/modules/{mid}/data"
        result = CellWriteResult(module_id=mid)
        records = aiter_records(cells, "cells")

        async def send(_: int, batch: tuple[int, list[dict[str, Any]], list[bytes]]) -> None:
            offset, sent, encoded = batch
            body = b"[" + b",".join(encoded) + b"]"
            response = await self.session.request("POST", url, idempotent=True, object_id=mid, content=body, headers=_JSON)
            result.merge(response.json(), sent, offset)

        await run_bounded(self._cell_batches(records, line_item, item_key), send, self.config.max_concurrency)
        result.failures.sort(key=lambda f: f.index)
        log.info("%s", result.summary())
        return result

    async def _cell_batches(
        self, records: AsyncIterator[dict[str, Any]], line_item: str | None, item_key: ItemKey
    ) -> AsyncIterator[tuple[int, list[dict[str, Any]], list[bytes]]]:
        """``(offset, cells, encoded cells)`` batches under both limits (2 bytes for ``[]``, 1 per comma)."""
        limit_cells, limit_bytes = self.max_cells_per_call, self.max_cell_bytes_per_call
        cells: list[dict[str, Any]] = []
        encoded: list[bytes] = []
        size = 2
        offset = 0
        async for record in records:
            cell = cell_write(record, line_item, item_key)
            data = json_bytes(cell)
            if len(data) + 2 > limit_bytes:
                raise AnaplanConfigError(f"cell {offset + len(cells)} alone is {len(data)} bytes, above the {limit_bytes}-byte limit of a call")
            if cells and (len(cells) >= limit_cells or size + 1 + len(data) > limit_bytes):
                yield offset, cells, encoded
                offset += len(cells)
                cells, encoded, size = [], [], 2
            size += len(data) + (1 if cells else 0)
            cells.append(cell)
            encoded.append(data)
        if cells:
            yield offset, cells, encoded
