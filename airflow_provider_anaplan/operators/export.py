"""AnaplanExportOperator: run an export and stream its file to a path or object storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.operators.base import AnaplanTaskOperator, to_destination

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus


class AnaplanExportOperator(AnaplanTaskOperator):
    """Run an export, then stream the exported file to ``destination`` (temporary file + rename).

    :param export_id: the export id (116…); the exported file has the same id. Templated.
    :param destination: local path or object-storage URI (``s3://…``, ``gs://…``, ``file://…``) as
        ``str``, or a ``pathlib.Path``/``ObjectStoragePath``; None leaves the file in Anaplan. Templated.
    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).
    :param deferrable: defer while Anaplan works (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 5).
    :param timeout: wall-clock budget in seconds (default 24 h); the task is cancelled when it passes.
    :param emit_assets: add ``anaplan://<ws>/<model>/files/<export_id>`` to ``outlets`` (static ids).

    Returns the task result plus ``destination`` and ``bytes`` (size written).
    """

    template_fields: Sequence[str] = (*AnaplanTaskOperator.template_fields, "destination")

    def __init__(self, *, export_id: str | int, destination: Any = None, **kwargs: Any) -> None:
        super().__init__(action_id=export_id, asset_objects=[("files", export_id)], **kwargs)
        self.destination = destination

    @property
    def export_id(self) -> str:
        return str(self.action_id)

    def after_success(self, context: Context, status: TaskStatus) -> dict[str, Any]:
        if self.destination is None:
            return {"destination": None, "bytes": None}
        size = self.hook.download_file(self.export_id, to_destination(self.destination))
        self.log.info("Export %s written to %s (%d bytes)", self.export_id, self.destination, size)
        if not size:
            self.log.warning("Export %s is empty (selective access or no data?)", self.export_id)
        return {"destination": str(self.destination), "bytes": size}
