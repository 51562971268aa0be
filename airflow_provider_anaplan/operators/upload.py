"""AnaplanUploadFileOperator: upload one file to Anaplan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_anaplan.operators.base import AnaplanBaseOperator, is_stream, to_source

if TYPE_CHECKING:
    from airflow.sdk import Context


#: how long an upload may hold its file, and how long it waits for another holder (seconds)
UPLOAD_LEASE_SECONDS = 3600.0


class AnaplanUploadFileOperator(AnaplanBaseOperator):
    """Upload one file (chunked, compressed, streamed) to an Anaplan file id.

    :param file_id: the Anaplan file id (113…), templated.
    :param source: what to upload: a ``str`` local path or object-storage URI (``s3://…``, ``file://…``),
        ``bytes`` content, a ``pathlib.Path``/``ObjectStoragePath``, a binary file object, or an
        iterable/async iterable of ``bytes`` chunks (streamed with an unknown chunk count). Templated.
    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).
    :param emit_assets: add ``anaplan://<ws>/<model>/files/<file_id>`` to ``outlets`` (static ids).

    Returns ``{"file_id", "source", "uploaded": True}``.
    """

    template_fields: Sequence[str] = (*AnaplanBaseOperator.template_fields, "file_id", "source")

    def __init__(self, *, file_id: str | int, source: Any, **kwargs: Any) -> None:
        super().__init__(asset_objects=[("files", file_id)], **kwargs)
        self.file_id = str(file_id) if isinstance(file_id, int) else file_id
        self.source = source

    def execute(self, context: Context) -> dict[str, Any]:
        src = to_source(self.source)
        try:
            self.persist_model_link(context)
            # Wait while another run of this deployment uploads to this file or has an import reading it.
            lease = self.hook.acquire_file_lease(
                str(self.file_id), hold_for=UPLOAD_LEASE_SECONDS, wait=UPLOAD_LEASE_SECONDS,
                owner=f"{self.dag_id}.{self.task_id}",
            )
            try:
                if is_stream(src):
                    self.hook.upload_file_stream(self.file_id, src)
                else:
                    self.hook.upload_file(self.file_id, src)
            finally:
                self.hook.release_file_lease(lease)
        finally:
            self.hook.close()
        shown = self.source if isinstance(self.source, str) else type(self.source).__name__
        self.log.info("Uploaded Anaplan file %s from %s", self.file_id, shown)
        return {"file_id": self.file_id, "source": shown, "uploaded": True}
