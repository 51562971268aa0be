"""AnaplanJobOperator: start one Anaplan asynchronous job of any kind and wait for it, exactly once.

The base of every operator whose work is one job of ``client/jobs.py`` other than a bulk task (bulk tasks
have :class:`~airflow_provider_anaplan.operators.base.AnaplanTaskOperator`, with start intents and file
leases): a large-volume read request, a model opening, an ALM sync, a CloudWorks integration or flow run.
A subclass says how to start the job (:meth:`AnaplanJobOperator.start_job`) and what a finished job
yields (:meth:`AnaplanJobOperator.complete`); this class does the rest the same way for every kind:

* waiting — in the worker (:func:`poll_until_terminal`, transient poll failures retried with backoff) or
  deferred to THE trigger (:class:`~airflow_provider_anaplan.triggers.task.AnaplanTaskTrigger` with
  ``kind``/``job``), with one deadline computed before any deferral;
* the verdict — THE outcome rule (:meth:`TaskStatus.verdict`, ``fail_on_partial``);
* retries — the job's ids are saved in Airflow's task state store right after the start; a retry whose
  previous job is still running (or finished successfully) reattaches to it instead of starting another;
* kills — :meth:`on_kill` (worker) and the trigger's ``on_kill`` (deferred) cancel the job once, best
  effort; :meth:`release_job` always runs at the end (a read request is deleted there).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_anaplan.operators.base import AnaplanBaseOperator, default_deferrable
from airflow_provider_anaplan.validation import MIN_POLL_INTERVAL, validate_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus

__all__ = ["JOB_STATE_KEY", "AnaplanJobOperator", "JobDeadline", "poll_until_terminal"]

log = logging.getLogger(__name__)

#: task_state_store key: ``{"kind": str, "key": str, "job": {id name: id}}`` of the job a try started.
JOB_STATE_KEY = "anaplan_job"


class JobDeadline(Exception):
    """:func:`poll_until_terminal` reached the deadline (internal; the caller raises the user's error)."""

    def __init__(self, last: TaskStatus | None, last_error: BaseException | None) -> None:
        super().__init__("deadline")
        self.last = last
        self.last_error = last_error

    def seen(self) -> str:
        """What the last polls saw: ``"IN_PROGRESS (Loading), 40%; the last poll failed: …"``."""
        from airflow_provider_anaplan.triggers.task import describe

        text = describe(self.last) if self.last is not None else "unknown"
        if self.last_error is not None:
            text += f"; the last poll failed: {self.last_error}"
        return text


def poll_until_terminal(
    read: Callable[[], TaskStatus],
    *,
    label: str,
    poll_interval: float,
    end_time: float,
    logger: Any = log,
) -> TaskStatus:
    """Poll ``read()`` until the status is terminal by THE outcome rule; raise :class:`JobDeadline` at
    ``end_time``. The worker-side twin of the trigger's loop, with the same rules: a poll that fails
    transiently (an Anaplan error that :func:`is_permanent_error` calls transient) is logged and retried
    with backoff until the deadline; a permanent failure, or one that is not an Anaplan error, is raised.
    """
    from airflow_provider_anaplan.exceptions import AnaplanError
    from airflow_provider_anaplan.triggers.task import describe, is_permanent_error, poll_backoff

    last_desc = ""
    last: TaskStatus | None = None
    last_error: BaseException | None = None
    failures = 0
    while True:
        try:
            status = read()
        except Exception as exc:
            if is_permanent_error(exc) or not isinstance(exc, AnaplanError):
                raise
            failures += 1
            last_error = exc
            delay = poll_backoff(failures, poll_interval)
            logger.warning("Polling %s failed (%s); %d failed in a row, next poll in %.1f s", label, exc, failures, delay)
        else:
            failures, last_error = 0, None
            last = status
            if status.outcome.is_terminal:
                return status
            if (desc := describe(status)) != last_desc:
                logger.info("%s: %s", label, desc)
                last_desc = desc
            delay = poll_interval
        remaining = end_time - time.time()
        if remaining <= 0:
            raise JobDeadline(last, last_error)
        time.sleep(min(delay, remaining))


class AnaplanJobOperator(AnaplanBaseOperator):
    """Start one Anaplan asynchronous job and wait for it (in the worker, or deferred).

    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls (>= 0.1; Anaplan asks for >= 5 in production).
    :param timeout: seconds the whole wait may take (one deadline across deferral); then the job is
        cancelled where its kind allows and the task fails with ``AnaplanTaskTimeoutError``.
    :param fail_on_partial: a job that finished with rejected rows/items fails the task (default True);
        False accepts it (the result says ``accepted_partial``).
    :param reattach: on a retry, reattach to the job the previous try started when it is still running
        or finished successfully, instead of starting another (default True).

    Subclasses set :attr:`job_kind` and implement :meth:`start_job` (and usually :meth:`complete`).
    """

    job_kind: ClassVar[str]
    template_fields: Sequence[str] = (*AnaplanBaseOperator.template_fields,)

    def __init__(
        self,
        *,
        deferrable: bool | None = None,
        poll_interval: float = 5.0,
        timeout: float = 3600.0,
        fail_on_partial: bool = True,
        reattach: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = default_deferrable() if deferrable is None else bool(deferrable)
        self.poll_interval = float(
            validate_seconds(poll_interval, "poll_interval", minimum=MIN_POLL_INTERVAL, inclusive=True)  # type: ignore[arg-type]
        )
        self.timeout = float(validate_seconds(timeout, "timeout"))  # type: ignore[arg-type]
        self.fail_on_partial = bool(fail_on_partial)
        self.reattach = bool(reattach)
        self._running: dict[str, str] | None = None
        self._cancelled = False

    # ---- what a subclass provides ----------------------------------------------------------------
    def start_job(self, context: Context) -> dict[str, str]:
        """Start the job; return its ids (the kind's ``id_names`` in ``client/jobs.py``)."""
        raise NotImplementedError

    def job_key(self) -> str:
        """What identifies "the same work" across tries (a retry only reattaches to a job of this key)."""
        return f"{self.job_kind}:{self.workspace_id}:{self.model_id}"

    def complete(self, context: Context, job: dict[str, str], status: TaskStatus) -> Any:
        """The XCom result of a job that the verdict accepted (default: a small summary)."""
        return {"kind": self.job_kind, "job": dict(job), "state": status.state.value, "rows": status.counts.to_dict()}

    def on_failure_status(self, context: Context, job: dict[str, str], status: TaskStatus) -> str:
        """Extra text for the error of a job that failed (e.g. where its error dumps were written)."""
        return ""

    def release_job(self, context: Context | None, job: dict[str, str]) -> None:
        """Always called once the job is finished with (success, failure, timeout, kill): clean up."""

    # ---- the machinery ---------------------------------------------------------------------------
    def describe_job(self, job: Mapping[str, str]) -> str:
        from airflow_provider_anaplan.client.jobs import JobKind, job_label

        return job_label(JobKind(self.job_kind), dict(job))

    def _status(self, job: Mapping[str, str]) -> TaskStatus:
        return self.hook.get_job_status(self.job_kind, job)

    def _previous(self, context: Context) -> dict[str, str] | None:
        """The job of a previous try to reattach to (still running or successful), else None."""
        from airflow_provider_anaplan.exceptions import AnaplanNotFoundError
        from airflow_provider_anaplan.operators.reattach import read_state

        if not self.reattach:
            return None
        saved = read_state(context, JOB_STATE_KEY)
        if not saved or saved.get("kind") != self.job_kind or saved.get("key") != self.job_key():
            return None
        job = {str(k): str(v) for k, v in dict(saved.get("job") or {}).items()}
        try:
            status = self._status(job)
        except AnaplanNotFoundError:
            return None
        if not status.outcome.is_terminal or status.is_success:
            self.log.info("Reattaching to %s started by a previous try (%s)", self.describe_job(job), status.state.value)
            return job
        self.log.warning("%s of a previous try ended %s; starting a new one", self.describe_job(job), status.outcome.value)
        return None

    def _remember(self, context: Context, job: dict[str, str] | None) -> None:
        from airflow_provider_anaplan.operators.reattach import write_state

        record = None if job is None else {"kind": self.job_kind, "key": self.job_key(), "job": job}
        try:
            write_state(context, record, JOB_STATE_KEY)
        except Exception:
            if job is not None:
                raise  # a retry must be able to find the job: fail this try rather than risk a second one
            self.log.warning("Could not clear the job record in the task state store", exc_info=True)

    def execute(self, context: Context) -> Any:
        from airflow_provider_anaplan.compat import TaskDeferred

        end_time = time.time() + self.timeout
        job = self._previous(context)
        if job is None:
            job = self.start_job(context)
            self.log.info("Started %s", self.describe_job(job))
            self._remember(context, job)
        self._running = job
        self.persist_model_link(context)
        deferred = False
        try:
            status = self._status(job)
            if not status.outcome.is_terminal and self.deferrable:
                from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

                deferred = True
                self.defer(
                    trigger=AnaplanTaskTrigger(
                        anaplan_conn_id=self.anaplan_conn_id,
                        workspace_id=self.workspace_id,
                        model_id=self.model_id,
                        kind=self.job_kind,
                        job=job,
                        poll_interval=self.poll_interval,
                        end_time=end_time,
                    ),
                    method_name="execute_complete",
                )
            if not status.outcome.is_terminal:
                status = self._wait(job, end_time)
            return self.finish(context, job, status)
        except TaskDeferred:
            raise
        except BaseException:
            deferred = False
            raise
        finally:
            if not deferred:
                self.release_job(context, job)
                self.hook.close()

    def _wait(self, job: dict[str, str], end_time: float) -> TaskStatus:
        from airflow_provider_anaplan.exceptions import AnaplanTaskTimeoutError

        try:
            return poll_until_terminal(
                lambda: self._status(job),
                label=self.describe_job(job),
                poll_interval=self.poll_interval,
                end_time=end_time,
                logger=self.log,
            )
        except JobDeadline as deadline:
            raise AnaplanTaskTimeoutError(
                f"{self.describe_job(job)} did not finish within {self.timeout:g} s (last state {deadline.seen()}); "
                f"{self.cancel_and_describe(job)}",
                status=deadline.last,
                object_id=next(reversed(job.values()), None),
            ) from None

    def finish(self, context: Context, job: dict[str, str], status: TaskStatus) -> Any:
        """Judge a terminal status by THE outcome rule; the XCom result or a specific error."""
        from airflow_provider_anaplan.client.status import TaskOutcome
        from airflow_provider_anaplan.exceptions import AnaplanTaskCancelledError, AnaplanTaskFailedError

        self._running = None
        label = self.describe_job(job)
        if status.outcome is TaskOutcome.CANCELLED:
            self._remember(context, None)
            raise AnaplanTaskCancelledError(f"{label} was cancelled in Anaplan", status=status)
        verdict = status.verdict(fail_on_partial=self.fail_on_partial)
        if not verdict.ok:
            self._remember(context, None)
            extra = self.on_failure_status(context, job, status)
            raise AnaplanTaskFailedError(f"{label} failed: {verdict.reason}{extra}", status=status)
        if verdict.reason:
            self.log.warning("%s accepted with rejected rows (fail_on_partial=False): %s", label, verdict.reason)
        result = self.complete(context, job, status)
        if isinstance(result, dict) and verdict.accepted_partial:
            result.setdefault("accepted_partial", True)
        self._remember(context, None)
        return result

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger: report exactly what the event says happened."""
        from airflow_provider_anaplan.exceptions import (
            AnaplanTaskCancelledError,
            AnaplanTaskError,
            AnaplanTaskTimeoutError,
        )

        if not isinstance(event, Mapping) or "status" not in event or not isinstance(event.get("job"), Mapping):
            raise AnaplanTaskError(f"Malformed Anaplan trigger event: {event!r}")
        job = {str(k): str(v) for k, v in event["job"].items()}
        status, message = event["status"], event.get("message") or ""
        try:
            if status in ("success", "failed"):
                return self.finish(context, job, self._status(job))
            if status == "timeout":
                raise AnaplanTaskTimeoutError(
                    f"[timeout] {message} (budget {self.timeout:g} s); {self.cancel_and_describe(job, context)}"
                )
            if status == "cancelled":
                self._remember(context, None)
                raise AnaplanTaskCancelledError(f"[cancelled] {message} (cancelled in Anaplan, not by this operator)")
            raise AnaplanTaskError(f"[{status}] {message} (the job may still be running; a retry reattaches to it)")
        finally:
            self.release_job(context, job)
            self.hook.close()

    def cancel_quietly(self, job: Mapping[str, str]) -> bool:
        """Cancel the job where its kind allows (best effort: logged, never raised)."""
        try:
            cancelled = self.hook.cancel_job(self.job_kind, job)
        except Exception:
            self.log.warning("Could not cancel %s", self.describe_job(job), exc_info=True)
            return False
        if cancelled:
            self.log.info("Requested cancellation of %s", self.describe_job(job))
        return bool(cancelled)

    def cancel_and_describe(self, job: Mapping[str, str], context: Context | None = None) -> str:
        """The budget passed: cancel where possible, re-read the job, say what happened."""
        requested = self.cancel_quietly(job)
        try:
            status = self._status(job)
        except Exception as exc:
            return f"cancellation {'was requested' if requested else 'was not possible'}; its state could not be read ({exc})"
        if status.outcome.is_terminal:
            if context is not None and not status.is_success:
                self._remember(context, None)
            return f"it is now {status.state.value} ({status.outcome.value})"
        if requested:
            return f"cancellation was requested; it is {status.state.value} (a retry reattaches to it if still running)"
        return f"it cannot be cancelled and is still {status.state.value} (a retry reattaches to it)"

    def on_kill(self) -> None:
        """Cancel the running job once (best effort), then release it."""
        job = self._running
        if job is None or self._cancelled:
            return
        self._cancelled = True
        self.cancel_quietly(job)
        try:
            self.release_job(None, job)
        except Exception:
            self.log.warning("Could not release %s", self.describe_job(job), exc_info=True)

