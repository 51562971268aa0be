"""AnaplanTaskTrigger: polls one Anaplan asynchronous job in the triggerer and fires exactly one event.

One trigger for every job kind (``client/jobs.py``): a bulk task (the default), a large-volume read
request, a model opening, an ALM sync task, a CloudWorks integration or flow run. Every kind's poll
returns a :class:`~airflow_provider_anaplan.client.status.TaskStatus`, so one outcome rule decides.

Event contract (fixed, see docs/ARCHITECTURE.md)::

    {"status": "success" | "failed" | "cancelled" | "timeout" | "error",
     "message": str, "task_id": str, "action_id": str, "task": TaskStatus.to_dict() | None,
     "kind": str, "job": {id name: id}}

``kind`` and ``job`` say which job it was; ``task_id``/``action_id`` are the bulk task's ids (for other
kinds: the job's last and first id, e.g. the run id and the integration id).

The trigger serializes only ids, the connection id and timings (never a secret). ``end_time`` is an
absolute epoch deadline computed once by the operator before deferring, so a triggerer restart does
not restart the clock. A plain ``asyncio.CancelledError`` (triggerer shutdown or hand-over) never
cancels the Anaplan task; only :meth:`on_kill` (a user marked the task failed/success or cleared it;
called by Airflow >= 3.3, below by :meth:`cleanup` once the task instance is no longer deferred) does,
once, best effort.

Polling rules:

* the verdict of a terminal task is THE outcome rule of the client (:meth:`TaskStatus.outcome`);
* the task is polled at least once before ``timeout`` is reported, also when the trigger is
  re-created after its deadline (the triggerer was down): a task that completed meanwhile reports its
  real outcome;
* transient failures (5xx/429/409/423 after the client's retries, connection errors, a 401 that one
  re-authentication did not cure, a lost OAuth refresh reply) never end the trigger: it keeps polling
  with backoff until the deadline (re-authenticating as often as needed) and then reports
  ``timeout``; ``error`` is reserved for permanent failures (:func:`is_permanent_error`: task or
  object not found, 403, 400, an archived model, bad configuration, credentials refused,
  reauthorization required).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_anaplan.client.jobs import JobKind, job_label, parse_job
from airflow_provider_anaplan.exceptions import (
    AnaplanAuthError,
    AnaplanBadRequestError,
    AnaplanConfigError,
    AnaplanError,
    AnaplanForbiddenError,
    AnaplanNotFoundError,
    AnaplanRefreshOutcomeUnknown,
    AnaplanUnprocessableError,
)
from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook
from airflow_provider_anaplan.validation import MIN_POLL_INTERVAL, validate_seconds

if TYPE_CHECKING:
    from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient
    from airflow_provider_anaplan.client.status import TaskStatus

EVENT_STATUSES: tuple[str, ...] = ("success", "failed", "cancelled", "timeout", "error")
#: kill checks of cancelled triggers still running (Airflow < 3.3, see AnaplanTaskTrigger.cleanup)
_PENDING: set[asyncio.Future[None]] = set()
#: ceiling of the backoff between polls that failed (seconds; at least the poll interval)
MAX_BACKOFF = 60.0
#: consecutive failures that are not Anaplan errors (a bug, a broken proxy) before giving up
MAX_UNEXPECTED_FAILURES = 5
_PERMANENT: tuple[type[BaseException], ...] = (
    AnaplanConfigError,
    AnaplanAuthError,  # credentials refused; AnaplanReauthorizationRequired is a subclass
    AnaplanBadRequestError,
    AnaplanForbiddenError,
    AnaplanNotFoundError,
    AnaplanUnprocessableError,
)


def is_permanent_error(exc: BaseException) -> bool:
    """Whether a failed status poll cannot heal by waiting (the trigger then reports ``error``).

    Permanent: task/object not found (404), 403, 400, 422 (archived model), bad configuration,
    credentials refused by the auth API, OAuth reauthorization required, an undefined Airflow
    connection. Everything else — 5xx/429/409/423 after the client's retries, connection errors and
    timeouts, a 401 that one re-authentication did not cure, a lost OAuth refresh reply — is transient.
    """
    if isinstance(exc, AnaplanRefreshOutcomeUnknown):
        return False  # the next attempt uses the stored refresh token
    if isinstance(exc, _PERMANENT):
        return True
    return type(exc).__name__ == "AirflowNotFoundException"  # connection id not defined


def poll_backoff(failures: int, poll_interval: float) -> float:
    """Delay before the next poll after ``failures`` consecutive failed polls (jittered exponential)."""
    ceiling = max(poll_interval, MAX_BACKOFF)
    base = min(ceiling, poll_interval * 2 ** min(failures - 1, 30))
    return random.uniform(0.5, 1.0) * base


def build_event(
    status: str,
    message: str,
    *,
    task_id: str,
    action_id: str,
    task: dict[str, Any] | None = None,
    kind: str = JobKind.BULK_TASK.value,
    job: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One event payload in the fixed contract."""
    if status not in EVENT_STATUSES:
        raise ValueError(f"unknown event status {status!r}")
    if job is None:
        job = {"action_id": action_id, "task_id": task_id} if kind == JobKind.BULK_TASK else {}
    return {
        "status": status,
        "message": message,
        "task_id": task_id,
        "action_id": action_id,
        "task": task,
        "kind": str(kind),
        "job": dict(job),
    }


def _event_ids(kind: JobKind, job: dict[str, str]) -> tuple[str, str]:
    """(task_id, action_id) of an event: the bulk ids, or the job's last and first id."""
    if kind is JobKind.BULK_TASK:
        return job["task_id"], job["action_id"]
    values = list(job.values())
    return (values[-1], values[0]) if values else ("", "")


def describe(status: TaskStatus) -> str:
    """Short human description of a task status (state, step, progress)."""
    text = f"{status.state.value}"
    if status.current_step:
        text += f" ({status.current_step})"
    if not status.is_terminal:
        text += f", {status.progress:.0%}"
    return text


def event_for_terminal(
    status: TaskStatus, *, kind: str = JobKind.BULK_TASK.value, job: dict[str, str] | None = None
) -> dict[str, Any]:
    """Map a terminal :class:`TaskStatus` to an event by THE outcome rule (:meth:`TaskStatus.outcome`).

    SUCCESS -> ``success``; FAILED (COMPLETE without ``successful: true``) -> ``failed``;
    CANCELLED -> ``cancelled``. A status that is not terminal raises ``ValueError``.
    """
    from airflow_provider_anaplan.client.status import TaskOutcome

    outcome = status.outcome
    job_kind = JobKind(kind)
    if job is None:
        job = {"action_id": status.action_id, "task_id": status.task_id} if job_kind is JobKind.BULK_TASK else {}
    task_id, action_id = _event_ids(job_kind, job)
    ids: dict[str, Any] = {
        "task_id": task_id, "action_id": action_id, "task": status.to_dict(), "kind": job_kind.value, "job": job
    }
    label = job_label(job_kind, job)
    if outcome is TaskOutcome.CANCELLED:
        return build_event("cancelled", f"{label} was cancelled", **ids)
    if outcome is TaskOutcome.SUCCESS:
        return build_event("success", f"{label} completed successfully", **ids)
    if outcome is TaskOutcome.FAILED:
        reason = status.verdict().reason
        return build_event("failed", f"{label} completed unsuccessfully: {status.summary()}: {reason}", **ids)
    raise ValueError(f"{label} is not terminal ({status.state.value})")


class AnaplanTaskTrigger(BaseTrigger):
    """Poll an Anaplan asynchronous job until it is terminal or the deadline passes; fire one event.

    :param anaplan_conn_id: Airflow connection id (type ``anaplan``).
    :param workspace_id: workspace id (None: the connection's).
    :param model_id: model id (None: the connection's). For an ALM sync: the target model.
    :param action_id: bulk task: the import/export/action/process id that runs the task.
    :param task_id: bulk task: the Anaplan task id.
    :param kind: job kind (``client/jobs.py``: ``bulk_task`` (default), ``read_request``,
        ``model_open``, ``alm_sync``, ``cloudworks_run``, ``cloudworks_flow``).
    :param job: the job's ids for kinds other than ``bulk_task`` (e.g. ``{"source": "views",
        "object_id": …, "request_id": …}``); for a bulk task ``action_id``/``task_id`` may be given here.
    :param poll_interval: seconds between polls (float >= 0.1; Anaplan asks for >= 5 in production).
    :param end_time: absolute deadline, epoch seconds (None: no deadline). It may already be past
        (a re-created trigger): the job is still polled once before ``timeout`` is reported.
    """

    def __init__(
        self,
        *,
        anaplan_conn_id: str,
        action_id: str | None = None,
        task_id: str | None = None,
        kind: str = JobKind.BULK_TASK.value,
        job: dict[str, Any] | None = None,
        workspace_id: str | None = None,
        model_id: str | None = None,
        poll_interval: float = 5.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        interval = validate_seconds(poll_interval, "poll_interval", minimum=MIN_POLL_INTERVAL, inclusive=True)
        if end_time is not None and (
            isinstance(end_time, bool) or not isinstance(end_time, (int, float)) or not math.isfinite(end_time)
        ):
            raise AnaplanConfigError(f"end_time must be None or epoch seconds (a finite number), got {end_time!r}")
        ids = dict(job or {})
        if str(kind) == JobKind.BULK_TASK.value:
            for name, value in (("action_id", action_id), ("task_id", task_id)):
                if value is not None or name not in ids:
                    if value is None or not str(value).strip():
                        raise AnaplanConfigError(f"{name} must be a non-empty id, got {value!r}")
                    ids[name] = value
        elif action_id is not None or task_id is not None:
            raise AnaplanConfigError(f"action_id/task_id are bulk-task ids; a {kind} job takes its ids in job=")
        self.kind, self.job = parse_job(kind, ids)
        self.anaplan_conn_id = anaplan_conn_id
        self.workspace_id = workspace_id
        self.model_id = model_id
        # Not ``self.task_id``: BaseTrigger's ``task_instance`` setter overwrites that attribute with
        # the *Airflow* task id when a real triggerer runs the trigger.
        self.anaplan_task_id, self.action_id = _event_ids(self.kind, self.job)
        self.label = job_label(self.kind, self.job)
        self.poll_interval = float(interval)  # type: ignore[arg-type]
        self.end_time = None if end_time is None else float(end_time)
        self._killed = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and kwargs: kind, ids, connection id and timings only."""
        ids: dict[str, Any]
        if self.kind is JobKind.BULK_TASK:
            ids = {"action_id": self.action_id, "task_id": self.anaplan_task_id}
        else:
            ids = {"kind": self.kind.value, "job": dict(self.job)}
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "anaplan_conn_id": self.anaplan_conn_id,
                "workspace_id": self.workspace_id,
                "model_id": self.model_id,
                **ids,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    def _hook(self) -> AnaplanAsyncHook:
        return AnaplanAsyncHook(self.anaplan_conn_id, workspace_id=self.workspace_id, model_id=self.model_id)

    def _event(self, status: str, message: str, task: dict[str, Any] | None = None) -> dict[str, Any]:
        return build_event(
            status,
            message,
            task_id=self.anaplan_task_id,
            action_id=self.action_id,
            task=task,
            kind=self.kind.value,
            job=dict(self.job),
        )

    def _timeout_event(self, last: TaskStatus | None, error: BaseException | None = None) -> dict[str, Any]:
        seen = f"; last state {describe(last)}" if last is not None else ""
        if error is not None:
            seen += f"; the last poll failed ({type(error).__name__}: {error})"
        return self._event(
            "timeout",
            f"{self.label} did not finish before the deadline{seen}",
            last.to_dict() if last is not None else None,
        )

    def _error_event(self, exc: BaseException, last: TaskStatus | None) -> dict[str, Any]:
        return self._event(
            "error",
            f"Polling {self.label} failed: {type(exc).__name__}: {exc}",
            last.to_dict() if last is not None else None,
        )

    async def _poll(self) -> dict[str, Any]:
        """Poll until a terminal state, a permanent error, or the deadline (see the module docstring)."""
        last: TaskStatus | None = None
        last_error: BaseException | None = None
        failures = unexpected = 0
        last_desc = ""
        hook = self._hook()
        client: AnaplanAsyncClient | None = None
        try:
            # Spread the first poll over one interval: a restarted triggerer re-creates all of its
            # triggers at the same instant, and they should not poll Anaplan in lock-step. A trigger
            # already past its deadline polls at once (once, then reports timeout if still running).
            first = random.uniform(0, self.poll_interval)
            if self.end_time is not None:
                first = min(first, max(0.0, self.end_time - time.time()))
            await asyncio.sleep(first)
            while True:
                try:
                    if client is None:
                        client = await (await hook.get_async_conn()).__aenter__()
                    status = await client.get_job_status(self.kind.value, self.job)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_permanent_error(exc):
                        self.log.warning("Polling %s failed: %s", self.label, exc)
                        return self._error_event(exc, last)
                    failures += 1
                    unexpected = 0 if isinstance(exc, AnaplanError) else unexpected + 1
                    if unexpected >= MAX_UNEXPECTED_FAILURES:
                        self.log.error(
                            "Polling %s failed %d times unexpectedly", self.label, unexpected
                        )
                        return self._error_event(exc, last)
                    last_error = exc
                    delay = poll_backoff(failures, self.poll_interval)
                    self.log.warning(
                        "Polling %s failed (%s: %s); poll %d failed in a row, next in %.1f s",
                        self.label,
                        type(exc).__name__,
                        exc,
                        failures,
                        delay,
                        exc_info=not isinstance(exc, AnaplanError),
                    )
                else:
                    failures = unexpected = 0
                    last, last_error = status, None
                    if status.outcome.is_terminal:
                        return event_for_terminal(status, kind=self.kind.value, job=dict(self.job))
                    if (desc := describe(status)) != last_desc:
                        self.log.info("%s: %s", self.label, desc)
                        last_desc = desc
                    delay = self.poll_interval
                if self.end_time is not None:
                    remaining = self.end_time - time.time()
                    if remaining <= 0:
                        return self._timeout_event(last, last_error)
                    delay = min(delay, remaining)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            # Triggerer shutdown / hand-over: the task keeps running in Anaplan and another
            # triggerer re-creates this trigger from its kwargs. Never cancel here.
            raise
        finally:
            if client is not None:
                try:
                    await client.aclose()
                except Exception:
                    self.log.debug("Closing the Anaplan client failed", exc_info=True)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll, then yield exactly one event and return."""
        try:
            event = await self._poll()
        except asyncio.CancelledError:
            self._cancelled = True  # Airflow < 3.3: cleanup() decides whether a user killed the task
            raise
        yield TriggerEvent(event)

    async def cleanup(self) -> None:
        """Airflow < 3.3 has no :meth:`on_kill`: after a cancellation, call it when the task instance is
        no longer deferred (a user ended it), not when it still is (triggerer shutdown or hand-over).

        Shielded: the triggerer cancels the trigger again on its next loop while the check is on its way.
        """
        from airflow_provider_anaplan import compat

        if getattr(self, "_cancelled", False) and not self._killed and not compat.has_trigger_on_kill():
            self._cancelled = False  # one check per cancellation
            check = asyncio.ensure_future(self._kill_if_ended_by_user())
            _PENDING.add(check)
            check.add_done_callback(_PENDING.discard)
            await asyncio.shield(check)
        await super().cleanup()

    async def _kill_if_ended_by_user(self) -> None:
        from airflow_provider_anaplan import compat

        state = await compat.task_instance_state(self)
        if state is not None and state != "deferred":
            await self.on_kill()

    async def on_kill(self) -> None:
        """User killed the deferred task (called by Airflow >= 3.3, by :meth:`cleanup` below): cancel the
        Anaplan job once, best effort (a read request is deleted; kinds that cannot be cancelled are left)."""
        if self._killed:
            return
        self._killed = True
        self.log.info("Cancelling %s (task killed by user)", self.label)
        hook = self._hook()
        try:
            await hook.cancel_job(self.kind.value, self.job)
        except Exception:
            self.log.warning("Could not cancel %s", self.label, exc_info=True)
        finally:
            try:
                await hook.aclose()
            except Exception:
                self.log.debug("Closing the Anaplan client failed", exc_info=True)
