"""Read a view (or a list) of an Anaplan model to a destination: :class:`AnaplanReadViewOperator`.

A view of at most 1,000,000 cells (one page) is read with one plain call; a bigger one — or any view
when ``large=True`` — through a *large-volume read request*: the operator creates it, waits (in the
worker or deferred to :class:`~airflow_provider_anaplan.triggers.task.AnaplanTaskTrigger`, one deadline),
streams every page to the destination, and **always** deletes the request (success, failure,
timeout, kill; see :class:`~airflow_provider_anaplan.operators.jobs.AnaplanJobOperator`). A retry
reattaches to a request that a previous try left running.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_anaplan.operators.base import to_destination
from airflow_provider_anaplan.operators.jobs import AnaplanJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus

__all__ = ["AnaplanReadRequestOperator", "AnaplanReadViewOperator"]


class AnaplanReadRequestOperator(AnaplanJobOperator):
    """Base of the read operators: a large-volume read request of ``source`` ("views"/"lists") ->
    ``destination``. Subclasses set :attr:`source` and :attr:`object_id`."""

    job_kind: ClassVar[str] = "read_request"
    source: ClassVar[str]
    object_id: Any
    destination: Any
    export_type: str | None = None

    def job_key(self) -> str:
        return f"{self.job_kind}:{self.workspace_id}:{self.model_id}:{self.source}:{self.object_id}"

    def start_job(self, context: Context) -> dict[str, str]:
        request_id = self.hook.start_read_request(self.source, str(self.object_id), self.export_type)
        return {"source": self.source, "object_id": str(self.object_id), "request_id": request_id}

    def complete(self, context: Context, job: dict[str, str], status: TaskStatus) -> Any:
        """Stream every page to the destination (the request is deleted by :meth:`release_job` after)."""
        destination = to_destination(self.destination)
        result = self.hook.download_read_request(job["source"], job["object_id"], job["request_id"], destination)
        self.log.info("Read %s %s: %d page(s), %d bytes -> %s", self.source[:-1], self.object_id, result.pages, result.bytes, self.destination)
        return {**result.to_dict(), "destination": str(self.destination), "mode": "large"}

    def release_job(self, context: Context | None, job: dict[str, str]) -> None:
        """Delete the read request (always; a request already gone is fine)."""
        try:
            self.hook.delete_read_request(job["source"], job["object_id"], job["request_id"])
        except Exception:
            self.log.warning("Could not delete read request %s (Anaplan removes it after 30 minutes)", job.get("request_id"), exc_info=True)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the model; outputs: the destination (None without the OpenLineage provider)."""
        return _lineage(self, inputs_model=True, location=self.destination, kind="destination")


def _lineage(operator: Any, *, inputs_model: bool, location: Any, kind: str) -> Any:
    """OpenLineage of a transactional operator: the model on one side, a location on the other."""
    try:
        from airflow_provider_anaplan.hooks.anaplan import resolve_path_argument
        from airflow_provider_anaplan.hooks.lineage import anaplan_model_uri, location_uri, operator_lineage

        cfg = operator.hook.get_client_config()
        model = anaplan_model_uri(cfg.workspace_id, cfg.model_id)
        try:
            place = location_uri(resolve_path_argument(location, kind)) if isinstance(location, str) or hasattr(location, "open") else None
        except Exception:
            place = None
        return operator_lineage([model], [place]) if inputs_model else operator_lineage([place], [model])
    except Exception:
        operator.log.debug("Could not build the OpenLineage facets of %s", operator.task_id, exc_info=True)
        return None


class AnaplanReadViewOperator(AnaplanReadRequestOperator):
    """Read a view to a destination (CSV).

    :param view_id: the view (or module: its default view) id, templated.
    :param destination: local path or object-storage URI as ``str`` (``s3://…``, ``file://…``), or a
        ``pathlib.Path``/``ObjectStoragePath``; written atomically (templated).
    :param large: True: a large-volume read request (any size, every page of the view); False: one
        plain read of the selected page (at most 1,000,000 cells); None (default): large when the view's
        page holds more than 1,000,000 cells.
    :param export_type: layout of a large read: ``TABULAR_MULTI_COLUMN`` (default),
        ``TABULAR_SINGLE_COLUMN`` or ``GRID_ALL_PAGES``.
    :param pages: page selectors of a plain read, ``{dimension_id: item_id}`` (templated).
    :param deferrable, poll_interval, timeout, reattach: see
        :class:`~airflow_provider_anaplan.operators.jobs.AnaplanJobOperator` (large reads).

    Returns ``{"mode": "plain"|"large", "object_id", "destination", "bytes", "pages", "request_id"}``.
    """

    source: ClassVar[str] = "views"
    template_fields: Sequence[str] = (*AnaplanJobOperator.template_fields, "view_id", "destination", "pages")
    template_fields_renderers = {"pages": "json"}
    ui_color = "#d6ecd2"

    def __init__(
        self,
        *,
        view_id: str | int,
        destination: Any,
        large: bool | None = None,
        export_type: str = "TABULAR_MULTI_COLUMN",
        pages: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.view_id = str(view_id) if isinstance(view_id, int) else view_id
        self.destination = destination
        self.large = large
        self.export_type = export_type
        self.pages = pages

    @property
    def object_id(self) -> Any:
        return self.view_id

    def _use_large(self) -> bool:
        if self.large is not None:
            return bool(self.large)
        from airflow_provider_anaplan.client.transactional_common import MAX_VIEW_READ_CELLS
        from airflow_provider_anaplan.exceptions import AnaplanBadRequestError

        try:
            cells = self.hook.count_view_cells(str(self.view_id))
        except AnaplanBadRequestError as exc:  # a dimension above 1,000,000 items: certainly too big
            self.log.info("Could not count the cells of view %s (%s): large-volume read", self.view_id, exc)
            return True
        large = cells > MAX_VIEW_READ_CELLS
        self.log.info("View %s shows %d cells a page: %s read", self.view_id, cells, "large-volume" if large else "plain")
        return large

    def execute(self, context: Context) -> Any:
        try:
            large = self._use_large()
        except BaseException:
            self.hook.close()
            raise
        if large:
            return super().execute(context)
        try:
            self.persist_model_link(context)
            data = self.hook.get_view_data(str(self.view_id), self.pages, "csv")
            destination = to_destination(self.destination)
            size = self._write(data, destination)
        finally:
            self.hook.close()
        self.log.info("Read view %s (plain read): %d bytes -> %s", self.view_id, size, self.destination)
        return {"mode": "plain", "source": "views", "object_id": str(self.view_id), "destination": str(self.destination),
                "bytes": size, "pages": 1, "request_id": None}

    @staticmethod
    def _write(data: bytes, destination: Any) -> int:
        """Write a plain read's bytes: a binary file object as is, a path atomically (temporary + rename),
        an ``ObjectStoragePath`` through ``.open("wb")``."""
        import os
        import secrets

        if hasattr(destination, "write") and not hasattr(destination, "open"):
            destination.write(data)
            return len(data)
        if hasattr(destination, "open") and not isinstance(destination, os.PathLike):
            with destination.open("wb") as out:
                out.write(data)
            return len(data)
        path = os.fspath(destination)
        tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.{secrets.token_hex(4)}.part")
        try:
            with open(tmp, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return len(data)
