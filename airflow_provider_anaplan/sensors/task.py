"""AnaplanTaskSensor: wait for an existing Anaplan task (e.g. a task id from XCom)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.operators.base import default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context


class AnaplanTaskSensor(BaseSensorOperator):
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
        from airflow_provider_anaplan.validation import validate_sensor_timing

        super().__init__(**validate_sensor_timing(kwargs))
        self.action_id = str(action_id) if isinstance(action_id, int) else action_id
        self.task_id_to_watch = task_id_to_watch
        self.anaplan_conn_id = anaplan_conn_id
        self.workspace_id = workspace_id
        self.model_id = model_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable

    @cached_property
    def hook(self) -> AnaplanHook:
        return AnaplanHook(self.anaplan_conn_id, workspace_id=self.workspace_id, model_id=self.model_id)

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
            self._raise(event)
        return True

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=AnaplanTaskTrigger(
                anaplan_conn_id=self.anaplan_conn_id,
                workspace_id=self.workspace_id,
                model_id=self.model_id,
                action_id=str(self.action_id),
                task_id=str(self.task_id_to_watch),
                poll_interval=float(self.poke_interval),
                end_time=time.time() + timeout,
            ),
            method_name="execute_complete",
        )

    def _raise(self, event: Mapping[str, Any]) -> None:
        from airflow_provider_anaplan.exceptions import (
            AnaplanTaskCancelledError,
            AnaplanTaskError,
            AnaplanTaskFailedError,
        )

        status, message = event.get("status"), event.get("message") or ""
        if status == "timeout":
            from airflow_provider_anaplan.compat import AirflowSensorTimeout

            raise AirflowSensorTimeout(f"[timeout] {message}")
        cls = {"failed": AnaplanTaskFailedError, "cancelled": AnaplanTaskCancelledError}.get(str(status), AnaplanTaskError)
        raise cls(f"[{status}] {message}", object_id=str(event.get("task_id") or ""))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any] | None:
        """Resume after the trigger: return the task summary on success, raise otherwise."""
        if not isinstance(event, Mapping) or event.get("status") != "success":
            self._raise(event if isinstance(event, Mapping) else {"status": "error", "message": repr(event)})
        self.log.info("%s", event.get("message"))
        return event.get("task")
