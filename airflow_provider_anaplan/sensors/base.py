"""AnaplanJobSensor: the base of the Anaplan sensors — poke in the worker or defer to THE trigger.

A sensor only observes an Anaplan asynchronous job (``client/jobs.py``): it never starts or cancels it.
Subclasses set :attr:`AnaplanJobSensor.job_kind`, say which job (:meth:`AnaplanJobSensor.job_ids`), how
one check reads (:meth:`poke`) and which exception a non-success event raises
(:meth:`AnaplanJobSensor.failure_error`). Deferral, the deadline, the event handling and the timing
checks are here, once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator

from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.operators.base import default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["AnaplanJobSensor"]


class AnaplanJobSensor(BaseSensorOperator):
    """Wait for an Anaplan job of :attr:`job_kind` (in the worker, or deferred to the trigger).

    :param anaplan_conn_id: Airflow connection id (default ``anaplan_default``).
    :param workspace_id: overrides the connection's workspace id (templated).
    :param model_id: overrides the connection's model id (templated).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: seconds between checks (sensor base parameter; finite float or timedelta, >= 0.1).
    :param timeout: seconds before the sensor fails (sensor base parameter), the same in both modes.
    """

    job_kind: ClassVar[str]
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
        """The Anaplan hook (created on first use, after templates are rendered)."""
        return AnaplanHook(self.anaplan_conn_id, workspace_id=self.workspace_id, model_id=self.model_id)

    def job_ids(self) -> dict[str, str]:
        """The watched job's ids (the kind's ``id_names``)."""
        raise NotImplementedError

    def failure_error(self, status: str) -> type[Exception]:
        """The exception for a non-success, non-timeout event ``status``."""
        from airflow_provider_anaplan.exceptions import AnaplanTaskError

        return AnaplanTaskError

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
                kind=self.job_kind,
                job=self.job_ids(),
                poll_interval=float(self.poke_interval),
                end_time=time.time() + timeout,
            ),
            method_name="execute_complete",
        )

    def raise_for_event(self, event: Mapping[str, Any]) -> None:
        """Raise what a non-success event says: a sensor timeout, or :meth:`failure_error`."""
        status, message = event.get("status"), event.get("message") or ""
        if status == "timeout":
            from airflow_provider_anaplan.compat import AirflowSensorTimeout

            raise AirflowSensorTimeout(f"[timeout] {message}")
        error = self.failure_error(str(status))
        from airflow_provider_anaplan.exceptions import AnaplanError

        if issubclass(error, AnaplanError):
            raise error(f"[{status}] {message}", object_id=str(event.get("task_id") or ""))
        raise error(f"[{status}] {message}")

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any] | None:
        """Resume after the trigger: return the job's status summary on success, raise otherwise."""
        if not isinstance(event, Mapping) or event.get("status") != "success":
            self.raise_for_event(event if isinstance(event, Mapping) else {"status": "error", "message": repr(event)})
        self.log.info("%s", event.get("message"))
        return event.get("task")
