"""AnaplanModelSensor: wait until the model is open and idle (deferrable; never opens it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow_provider_anaplan.sensors.base import AnaplanJobSensor

if TYPE_CHECKING:
    from airflow.sdk import Context


class AnaplanModelSensor(AnaplanJobSensor):
    """Wait until ``GET /models/{id}/status`` reports the model ``Open`` (loaded and idle).

    A closed model keeps the sensor waiting (use :class:`~airflow_provider_anaplan.operators.model.AnaplanWakeModelOperator`
    to open it). Deferrable through the one trigger (job kind ``model_open``). Parameters: those of
    :class:`~airflow_provider_anaplan.sensors.base.AnaplanJobSensor` (connection, workspace/model
    overrides, ``deferrable``, ``poke_interval``, ``timeout``).
    """

    job_kind: ClassVar[str] = "model_open"

    def job_ids(self) -> dict[str, str]:
        return {}

    def failure_error(self, status: str) -> type[Exception]:
        from airflow_provider_anaplan.exceptions import AnaplanModelClosedError

        return AnaplanModelClosedError

    def poke(self, context: Context) -> bool:
        try:
            status = self.hook.get_model_open_status()
        finally:
            self.hook.close()
        self.log.info("Model %s: %s", status.action_id, status.current_step)
        return status.is_success
