"""Model lifecycle operators: :class:`AnaplanWakeModelOperator` (open a closed model and wait until it
is open; deferrable) and :class:`AnaplanCloseModelOperator`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_anaplan.operators.base import AnaplanBaseOperator
from airflow_provider_anaplan.operators.jobs import AnaplanJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus

__all__ = ["AnaplanCloseModelOperator", "AnaplanWakeModelOperator"]


class AnaplanWakeModelOperator(AnaplanJobOperator):
    """Open (wake) the model if it is closed, then wait until it is open and idle — in the worker or
    deferred to the trigger (job kind ``model_open``). An open model is a no-op.

    :param deferrable, poll_interval, timeout: see :class:`~airflow_provider_anaplan.operators.jobs.AnaplanJobOperator`
        (a large model can take minutes to load; the default budget is one hour).

    Returns ``{"model_id", "state": "open", "woken": bool}``.
    """

    job_kind: ClassVar[str] = "model_open"
    ui_color = "#e8e0f4"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._woken = False

    def start_job(self, context: Context) -> dict[str, str]:
        status = self.hook.get_model_open_status()
        if not status.is_success and status.current_step and status.current_step.lower() == "closed":
            self.hook.open_model()
            self._woken = True
        return {}

    def complete(self, context: Context, job: dict[str, str], status: TaskStatus) -> Any:
        return {"model_id": status.action_id, "state": "open", "woken": self._woken}


class AnaplanCloseModelOperator(AnaplanBaseOperator):
    """Close (unload) the model. Warning: Anaplan closes it for every user in it, without notice.

    Returns ``{"model_id", "closed": True}``.
    """

    ui_color = "#e8e0f4"

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            self.persist_model_link(context)
            self.hook.close_model()
            model_id = self.hook.get_client_config().model_id
        finally:
            self.hook.close()
        self.log.info("Asked Anaplan to close model %s", model_id)
        return {"model_id": model_id, "closed": True}
