"""AnaplanDownloadFileOperator: download an Anaplan file to a path or object storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.operators.base import AnaplanBaseOperator, to_destination

if TYPE_CHECKING:
    from airflow.sdk import Context


class AnaplanDownloadFileOperator(AnaplanBaseOperator):
    """Stream an Anaplan file (e.g. an export's output) to a destination (temp file + rename).

    :param file_id: the Anaplan file id (113… or an export id 116…), templated.
    :param destination: local path or object-storage URI (``s3://…``, ``file://…``) as ``str``, or a
        ``pathlib.Path``/``ObjectStoragePath``; templated.
    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).

    Returns ``{"file_id", "destination", "bytes"}``.
    """

    template_fields: Sequence[str] = (*AnaplanBaseOperator.template_fields, "file_id", "destination")

    def __init__(self, *, file_id: str | int, destination: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_id = str(file_id) if isinstance(file_id, int) else file_id
        self.destination = destination

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            self.persist_model_link(context)
            size = self.hook.download_file(self.file_id, to_destination(self.destination))
        finally:
            self.hook.close()
        self.log.info("Downloaded Anaplan file %s to %s (%d bytes)", self.file_id, self.destination, size)
        if not size:
            self.log.warning("Anaplan file %s is empty", self.file_id)
        return {"file_id": self.file_id, "destination": str(self.destination), "bytes": size}
