"""AnaplanTaskSensor: wait for an existing Anaplan task (e.g. a task id from XCom)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.sensors.base import AnaplanJobSensor

if TYPE_CHECKING:
    from airflow.sdk import Context


class AnaplanTaskSensor(AnaplanJobSensor):
    """Wait until an Anaplan task is terminal; succeed on COMPLETE+successful, fail otherwise.

    The sensor only observes: it never cancels the task (not even on timeout).

    :param action_id: the import/export/action/process id running the task (templated).
    :param task_id_to_watch: the Anaplan task id, e.g. ``"{{ ti.xcom_pull('load', key='anaplan_task_id') }}"``
        (templated).
    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (sensor base parameter; finite float or timedelta,
        >= 0.1).
    :param timeout: seconds before the sensor fails (sensor base parameter; finite, > 0, or a
        timedelta), same in both modes.

    The verdict is the client's one outcome rule (``TaskStatus.outcome``): COMPLETE counts as success
    only with ``successful: true``.
    """

    job_kind: ClassVar[str] = "bulk_task"
    template_fields: Sequence[str] = ("anaplan_conn_id", "workspace_id", "model_id", "action_id", "task_id_to_watch")

    def __init__(
        self,
        *,
        action_id: str | int,
        task_id_to_watch: str,
        anaplan_conn_id: str = AnaplanHook.default_conn_name,
        workspace_id: str | None = None,
        model_id: str | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            anaplan_conn_id=anaplan_conn_id,
            workspace_id=workspace_id,
            model_id=model_id,
            deferrable=deferrable,
            **kwargs,
        )
        self.action_id = str(action_id) if isinstance(action_id, int) else action_id
        self.task_id_to_watch = task_id_to_watch

    def job_ids(self) -> dict[str, str]:
        return {"action_id": str(self.action_id), "task_id": str(self.task_id_to_watch)}

    def failure_error(self, status: str) -> type[Exception]:
        from airflow_provider_anaplan.exceptions import (
            AnaplanTaskCancelledError,
            AnaplanTaskError,
            AnaplanTaskFailedError,
        )

        return {"failed": AnaplanTaskFailedError, "cancelled": AnaplanTaskCancelledError}.get(status, AnaplanTaskError)

    def poke(self, context: Context) -> bool:
        from airflow_provider_anaplan.triggers.task import event_for_terminal

        try:
            status = self.hook.get_task_status(str(self.action_id), str(self.task_id_to_watch))
        finally:
            self.hook.close()
        if not status.outcome.is_terminal:
            self.log.info("Anaplan task %s: %s", self.task_id_to_watch, status.state.value)
            return False
        event = event_for_terminal(status)
        if event["status"] != "success":
            self.raise_for_event(event)
        return True
