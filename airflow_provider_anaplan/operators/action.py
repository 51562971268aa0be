"""AnaplanRunActionOperator: run any action id (delete actions, or any import/export/process id)."""

from __future__ import annotations

from typing import Any

from airflow_provider_anaplan.operators.base import AnaplanTaskOperator


class AnaplanRunActionOperator(AnaplanTaskOperator):
    """Run one Anaplan action by id and wait for it; routed by prefix (117 action, 112 import, …).

    :param action_id: the action id (117… for delete/other actions; 112/116/118 also work), templated.
    :param mapping_parameters: ``{entityType: entityName}`` if the action asks for them.
    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).
    :param deferrable: defer while Anaplan works (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 5).
    :param timeout: wall-clock budget in seconds (default 24 h); the task is cancelled when it passes.
    :param fail_on_partial: fail on rejected rows (default True).
    :param dump_dir: where failure dumps go (templated).
    """

    def __init__(self, *, action_id: str | int, **kwargs: Any) -> None:
        kwargs.setdefault("emit_assets", False)
        super().__init__(action_id=action_id, **kwargs)
