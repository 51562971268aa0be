"""AnaplanModelSensor: wait until the model is open and idle (deferrable; never opens it)."""

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


class AnaplanModelSensor(BaseSensorOperator):
    """Wait until ``GET /models/{id}/status`` reports the model ``Open`` (loaded and idle).

    A closed model keeps the sensor waiting (use :class:`~airflow_provider_anaplan.operators.model.AnaplanWakeModelOperator`
    to open it). Deferrable through the one trigger (job kind ``model_open``).

    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval, timeout: sensor base parameters (>= 0.1 s; the same budget in both modes).
    """

    template_fields: Sequence[str] = ("anaplan_conn_id", "workspace_id", "model_id")

    def __init__(
        self,
        *,
        anaplan_conn_id: str = AnaplanHook.default_conn_name,
        workspace_id: str | None = None,
        model_id: str | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_anaplan.validation import validate_sensor_timing

        super().__init__(**validate_sensor_timing(kwargs))
        self.anaplan_conn_id = anaplan_conn_id
        self.workspace_id = workspace_id
        self.model_id = model_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable

    @cached_property
    def hook(self) -> AnaplanHook:
        return AnaplanHook(self.anaplan_conn_id, workspace_id=self.workspace_id, model_id=self.model_id)

    def poke(self, context: Context) -> bool:
        try:
            status = self.hook.get_model_open_status()
        finally:
            self.hook.close()
        self.log.info("Model %s: %s", status.action_id, status.current_step)
        return status.is_success

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
                kind="model_open",
                job={},
                poll_interval=float(self.poke_interval),
                end_time=time.time() + timeout,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any] | None:
        """Resume after the trigger: the model is open, or raise what the event says."""
        if isinstance(event, Mapping) and event.get("status") == "success":
            self.log.info("%s", event.get("message"))
            return event.get("task")
        status = event.get("status") if isinstance(event, Mapping) else "error"
        message = event.get("message") if isinstance(event, Mapping) else repr(event)
        if status == "timeout":
            from airflow_provider_anaplan.compat import AirflowSensorTimeout

            raise AirflowSensorTimeout(f"[timeout] {message}")
        from airflow_provider_anaplan.exceptions import AnaplanModelClosedError

        raise AnaplanModelClosedError(f"[{status}] {message}")
