"""AnaplanTaskTrigger: polls one Anaplan task in the triggerer and fires exactly one event.

Event contract (fixed, see docs/ARCHITECTURE.md)::

    {"status": "success" | "failed" | "cancelled" | "timeout" | "error",
     "message": str, "task_id": str, "action_id": str, "task": TaskStatus.to_dict() | None}

The trigger serializes only ids, the connection id and timings (never a secret). ``end_time`` is an
absolute epoch deadline computed once by the operator before deferring, so a triggerer restart does
not restart the clock. A plain ``asyncio.CancelledError`` (triggerer shutdown or hand-over) never
cancels the Anaplan task; only :meth:`on_kill` (a user marked the task failed/success or cleared it,
Airflow >= 3.3) does, once, best effort.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.status import TaskStatus

EVENT_STATUSES: tuple[str, ...] = ("success", "failed", "cancelled", "timeout", "error")


def build_event(
    status: str, message: str, *, task_id: str, action_id: str, task: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One event payload in the fixed contract."""
    if status not in EVENT_STATUSES:
        raise ValueError(f"unknown event status {status!r}")
    return {"status": status, "message": message, "task_id": task_id, "action_id": action_id, "task": task}


def describe(status: TaskStatus) -> str:
    """Short human description of a task status (state, step, progress)."""
    text = f"{status.state.value}"
    if status.current_step:
        text += f" ({status.current_step})"
    if not status.is_terminal:
        text += f", {status.progress:.0%}"
    return text


def event_for_terminal(status: TaskStatus) -> dict[str, Any]:
    """Map a terminal :class:`TaskStatus` to an event: COMPLETE ok/failed, CANCELLED."""
    from airflow_provider_anaplan.client.status import TaskState

    ids = {"task_id": status.task_id, "action_id": status.action_id, "task": status.to_dict()}
    label = f"Anaplan task {status.task_id} of action {status.action_id}"
    if status.state is TaskState.CANCELLED:
        return build_event("cancelled", f"{label} was cancelled", **ids)
    if status.is_success:
        return build_event("success", f"{label} completed successfully", **ids)
    return build_event("failed", f"{label} completed unsuccessfully: {status.summary()}", **ids)


class AnaplanTaskTrigger(BaseTrigger):
    """Poll an Anaplan task until it is terminal or the deadline passes; fire one event.

    :param anaplan_conn_id: Airflow connection id (type ``anaplan``).
    :param workspace_id: workspace id (None: the connection's).
    :param model_id: model id (None: the connection's).
    :param action_id: import/export/action/process id that runs the task.
    :param task_id: the Anaplan task id.
    :param poll_interval: seconds between polls (float; Anaplan asks for >= 5 in production).
    :param end_time: absolute deadline, epoch seconds (None: no deadline).
    """

    def __init__(
        self,
        *,
        anaplan_conn_id: str,
        action_id: str,
        task_id: str,
        workspace_id: str | None = None,
        model_id: str | None = None,
        poll_interval: float = 5.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        self.anaplan_conn_id = anaplan_conn_id
        self.workspace_id = workspace_id
        self.model_id = model_id
        self.action_id = str(action_id)
        # Not ``self.task_id``: BaseTrigger's ``task_instance`` setter overwrites that attribute with
        # the *Airflow* task id when a real triggerer runs the trigger.
        self.anaplan_task_id = str(task_id)
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)
        self._killed = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and kwargs: ids, connection id and timings only."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "anaplan_conn_id": self.anaplan_conn_id,
                "workspace_id": self.workspace_id,
                "model_id": self.model_id,
                "action_id": self.action_id,
                "task_id": self.anaplan_task_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    def _hook(self) -> AnaplanAsyncHook:
        return AnaplanAsyncHook(self.anaplan_conn_id, workspace_id=self.workspace_id, model_id=self.model_id)

    def _event(self, status: str, message: str, task: dict[str, Any] | None = None) -> dict[str, Any]:
        return build_event(status, message, task_id=self.anaplan_task_id, action_id=self.action_id, task=task)

    def _timeout_event(self, last: TaskStatus | None) -> dict[str, Any]:
        seen = f"; last state {describe(last)}" if last is not None else ""
        return self._event(
            "timeout",
            f"Anaplan task {self.anaplan_task_id} of action {self.action_id} did not finish before the "
            f"deadline{seen}",
            last.to_dict() if last is not None else None,
        )

    async def _poll(self) -> dict[str, Any]:
        if self.end_time is not None and time.time() >= self.end_time:
            return self._timeout_event(None)
        last: TaskStatus | None = None
        last_desc = ""
        try:
            # Spread the first poll over one interval: a restarted triggerer re-creates all of its
            # triggers at the same instant, and they should not poll Anaplan in lock-step.
            first = random.uniform(0, self.poll_interval)
            if self.end_time is not None:
                first = min(first, max(0.0, self.end_time - time.time()))
            await asyncio.sleep(first)
            async with await self._hook().get_async_conn() as client:
                while True:
                    status = await client.get_task_status(self.action_id, self.anaplan_task_id)
                    last = status
                    if status.is_terminal:
                        return event_for_terminal(status)
                    if (desc := describe(status)) != last_desc:
                        self.log.info("Anaplan task %s: %s", self.anaplan_task_id, desc)
                        last_desc = desc
                    delay = self.poll_interval
                    if self.end_time is not None:
                        remaining = self.end_time - time.time()
                        if remaining <= 0:
                            return self._timeout_event(last)
                        delay = min(delay, remaining)
                    await asyncio.sleep(delay)
        except asyncio.CancelledError:
            # Triggerer shutdown / hand-over: the task keeps running in Anaplan and another
            # triggerer re-creates this trigger from its kwargs. Never cancel here.
            raise
        except Exception as exc:  # after the client's own retries
            self.log.warning("Polling Anaplan task %s failed: %s", self.anaplan_task_id, exc)
            return self._event(
                "error",
                f"Polling Anaplan task {self.anaplan_task_id} of action {self.action_id} failed: "
                f"{type(exc).__name__}: {exc}",
                last.to_dict() if last is not None else None,
            )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll, then yield exactly one event and return."""
        yield TriggerEvent(await self._poll())

    async def on_kill(self) -> None:
        """User killed the deferred task (Airflow >= 3.3): cancel the Anaplan task once, best effort."""
        if self._killed:
            return
        self._killed = True
        self.log.info("Cancelling Anaplan task %s of action %s (task killed by user)", self.anaplan_task_id, self.action_id)
        hook = self._hook()
        try:
            await hook.cancel_task(self.action_id, self.anaplan_task_id)
        except Exception:
            self.log.warning("Could not cancel Anaplan task %s", self.anaplan_task_id, exc_info=True)
        finally:
            try:
                await hook.aclose()
            except Exception:
                self.log.debug("Closing the Anaplan client failed", exc_info=True)
