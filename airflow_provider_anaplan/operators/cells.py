"""AnaplanWriteCellsOperator: write module cells from a source (transactional API, no import action).

Cells are batched under Anaplan's limits (100,000 cells or 15 MB a call) and sent with bounded
concurrency by the client; the merged result goes to XCom, every failure to a CSV file beside the
failure dumps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.operators.base import AnaplanBaseOperator
from airflow_provider_anaplan.operators.lists import failures_file, source_argument
from airflow_provider_anaplan.operators.views import _lineage

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["AnaplanWriteCellsOperator"]


class AnaplanWriteCellsOperator(AnaplanBaseOperator):
    """Write cells of a module.

    :param module_id: the module id (templated).
    :param cells: Anaplan ``CellWrite`` dicts, or flat records / CSV rows with ``line_item``, ``value``
        and one column per dimension (the item's name, or its code/id with ``item_key``): a ``str``
        path or object-storage URI of a CSV file, ``Path``/``ObjectStoragePath``, a list of dicts or a
        DataFrame (templated).
    :param line_item: line item name for cells that name none (templated).
    :param item_key: ``name`` (default), ``code`` or ``id``: what the flat records' dimension values are.
    :param fail_on_failures: fail the task when Anaplan rejected any cell (default True); the others are
        written either way, and the failures are in the CSV file named in the error and XCom.
    :param dump_dir: directory of the failures file (templated).

    Returns ``CellWriteResult.to_dict()`` (``changed``, ``total``, ``calls``, the first failures) plus
    ``failures_file``.
    """

    template_fields: Sequence[str] = (*AnaplanBaseOperator.template_fields, "module_id", "cells", "line_item", "dump_dir")
    ui_color = "#f6e3c9"

    def __init__(
        self,
        *,
        module_id: str | int,
        cells: Any,
        line_item: str | None = None,
        item_key: str = "name",
        fail_on_failures: bool = True,
        dump_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("asset_objects", [(None, None)])
        super().__init__(**kwargs)
        if item_key not in ("name", "code", "id"):
            raise AnaplanConfigError(f"item_key must be 'name', 'code' or 'id', got {item_key!r}")
        self.module_id = str(module_id) if isinstance(module_id, int) else module_id
        self.cells = cells
        self.line_item = line_item
        self.item_key = item_key
        self.fail_on_failures = bool(fail_on_failures)
        self.dump_dir = dump_dir

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_anaplan.exceptions import AnaplanWriteFailuresError

        cells = source_argument(self.cells)
        try:
            self.persist_model_link(context)
            result = self.hook.update_module_data(str(self.module_id), cells, self.line_item, self.item_key)  # type: ignore[arg-type]
        finally:
            self.hook.close()
        path = failures_file(self, context, result, f"module_{self.module_id}_cell_failures.csv")
        summary = {**result.to_dict(), "failures_file": path}
        if result.failures and self.fail_on_failures:
            raise AnaplanWriteFailuresError(
                f"{result.summary()}. Every failure is in {path}; the other cells were written "
                "(set fail_on_failures=False to accept rejected cells)",
                result=summary,
                object_id=str(self.module_id),
            )
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return _lineage(self, inputs_model=False, location=self.cells, kind="source")
