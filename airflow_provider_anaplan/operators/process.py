"""AnaplanProcessOperator: optional uploads, then run a process (several actions in order)."""

from __future__ import annotations

from typing import Any

from airflow_provider_anaplan.operators.base import AnaplanTaskOperator, upload_assets


class AnaplanProcessOperator(AnaplanTaskOperator):
    """Run an Anaplan process; the result carries one summary per step (``steps``).

    Processes are not atomic: a failed step does not roll back earlier ones. Failure dumps are fetched
    per step (``nestedResults[].objectId``).

    :param process_id: the process id (118…), templated.
    :param uploads: ``{file_id: source}`` to upload first (see :class:`AnaplanTaskOperator`).
    :param mapping_parameters: ``{entityType: entityName}`` for the steps that ask for them.
    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).
    :param deferrable: defer while Anaplan works (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 5).
    :param timeout: wall-clock budget in seconds (default 24 h); the task is cancelled when it passes.
    :param fail_on_partial: fail on rejected rows (default True); False accepts partial loads.
    :param dump_dir: where failure dumps go (templated).
    :param dump_preview_lines: lines of each dump shown in the log.
    :param emit_assets: add the uploaded files and the model to ``outlets`` (static ids).
    """

    def __init__(self, *, process_id: str | int, uploads: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(action_id=process_id, uploads=uploads, asset_objects=upload_assets(uploads), **kwargs)

    @property
    def process_id(self) -> str:
        return str(self.action_id)
