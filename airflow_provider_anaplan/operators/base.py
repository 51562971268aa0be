"""Shared machinery of the Anaplan operators.

:class:`AnaplanBaseOperator` owns the hook (a ``cached_property``), the workspace/model overrides, the
model link and asset outlets. :class:`AnaplanTaskOperator` adds what every task-running operator
(import, export, process, action) shares: optional uploads first, start or *reattach* (retries never
start a second Anaplan task while the first one is running or succeeded), sync polling or deferral to
:class:`~airflow_provider_anaplan.triggers.task.AnaplanTaskTrigger` with one wall-clock deadline,
result validation (``fail_on_partial``), failure dumps and a compact JSON-safe XCom result.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_anaplan.compat import conf
from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.links.model import AnaplanModelLink
from airflow_provider_anaplan.operators.assets import anaplan_asset, static_id
from airflow_provider_anaplan.operators.reattach import STATE_KEY, read_state, write_state  # noqa: F401
from airflow_provider_anaplan.operators.results import evaluate, log_dumps, result_dict
from airflow_provider_anaplan.validation import MIN_POLL_INTERVAL, validate_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus

#: Default wall-clock budget of a task (seconds), the same in sync and deferrable mode.
DEFAULT_TIMEOUT = 24 * 60 * 60.0
XCOM_TASK_ID_KEY = "anaplan_task_id"
#: longest a file lease lives without being released (plus 10 minutes), seconds
LEASE_MAX_SECONDS = 4 * 3600.0


def default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def to_source(value: Any) -> Any:
    """The one source rule (:func:`~airflow_provider_anaplan.hooks.anaplan.resolve_path_argument`): a
    ``str`` is a local path (which must exist) or an object-storage URI; bytes are content."""
    from airflow_provider_anaplan.hooks.anaplan import resolve_path_argument

    return resolve_path_argument(value, "source")


def to_destination(value: Any) -> Any:
    """The same rule for a destination, and create its parent directory when possible."""
    from airflow_provider_anaplan.hooks.anaplan import resolve_path_argument

    dest = resolve_path_argument(value, "destination")
    parent = getattr(dest, "parent", None)
    if parent is not None:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except Exception:  # object stores without directories, or no permission: let the write decide
            pass
    return dest


def _is_anaplan_error(exc: BaseException) -> bool:
    from airflow_provider_anaplan.exceptions import AnaplanError

    return isinstance(exc, AnaplanError)


def is_stream(value: Any) -> bool:
    """True for iterables/async iterables of chunks (not bytes, str, paths or file objects)."""
    if isinstance(value, (bytes, bytearray, memoryview, str, os.PathLike)) or hasattr(value, "read"):
        return False
    if hasattr(value, "open") and hasattr(value, "protocol"):  # ObjectStoragePath
        return False
    return hasattr(value, "__iter__") or hasattr(value, "__aiter__")


class AnaplanBaseOperator(BaseOperator):
    """Base of every Anaplan operator.

    :param anaplan_conn_id: Airflow connection id (type ``anaplan``), default ``anaplan_default``.
    :param workspace_id: overrides the connection's ``workspace_id`` extra (templated).
    :param model_id: overrides the connection's ``model_id`` extra (templated).
    :param emit_assets: add ``anaplan://`` assets to ``outlets`` when the ids are static strings.
    :param asset_objects: (set by subclasses) ``(kind, object_id)`` pairs the operator writes;
        ``(None, None)`` stands for the model itself.
    """

    template_fields: Sequence[str] = ("anaplan_conn_id", "workspace_id", "model_id")
    operator_extra_links = (AnaplanModelLink(),)
    ui_color = "#c9e4f6"

    def __init__(
        self,
        *,
        anaplan_conn_id: str = AnaplanHook.default_conn_name,
        workspace_id: str | None = None,
        model_id: str | None = None,
        emit_assets: bool = True,
        asset_objects: Sequence[tuple[str | None, Any]] = (),
        **kwargs: Any,
    ) -> None:
        if emit_assets:
            assets = self._assets_for(workspace_id, model_id, asset_objects)
            if assets:
                kwargs["outlets"] = [*self._as_list(kwargs.get("outlets")), *assets]
        super().__init__(**kwargs)
        self.anaplan_conn_id = anaplan_conn_id
        self.workspace_id = workspace_id
        self.model_id = model_id

    @staticmethod
    def _as_list(value: Any) -> list[Any]:
        if value is None:
            return []
        return list(value) if isinstance(value, (list, tuple)) else [value]

    @staticmethod
    def _assets_for(workspace_id: Any, model_id: Any, objects: Sequence[tuple[str | None, Any]]) -> list[Any]:
        ws, model = static_id(workspace_id), static_id(model_id)
        if not ws or not model:
            return []
        assets = []
        for kind, obj in objects:
            if kind is None:
                assets.append(anaplan_asset(ws, model))
            elif (oid := static_id(obj)) is not None:
                assets.append(anaplan_asset(ws, model, kind, oid))
        return assets

    @cached_property
    def hook(self) -> AnaplanHook:
        """The Anaplan hook (created on first use, after templates are rendered)."""
        return AnaplanHook(self.anaplan_conn_id, workspace_id=self.workspace_id, model_id=self.model_id)

    def persist_model_link(self, context: Context) -> None:
        """Push the model URL for the extra link (best effort)."""
        try:
            AnaplanModelLink.persist(context, self.hook.model_url)
        except Exception:
            self.log.debug("Could not push the Anaplan model link", exc_info=True)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage inputs/outputs (:mod:`~airflow_provider_anaplan.operators.lineage`); None
        without the optional OpenLineage provider."""
        from airflow_provider_anaplan.operators.lineage import openlineage_facets

        return openlineage_facets(self)


def upload_assets(uploads: Mapping[str, Any] | None) -> list[tuple[str | None, Any]]:
    """Asset objects of an operator that uploads ``uploads`` and then changes the model."""
    return [*(("files", file_id) for file_id in (uploads or {})), (None, None)]


class AnaplanTaskOperator(AnaplanBaseOperator):
    """Base of the operators that run an Anaplan action as a task (import, export, process, action).

    :param action_id: the import/export/action/process id (templated).
    :param uploads: ``{file_id: source}`` uploaded before the task starts (skipped when a retry
        reattaches). A ``str`` source is a local path or an object-storage URI (``s3://…``); ``bytes``
        are the content; ``pathlib.Path``/``ObjectStoragePath``/binary file objects/iterables of
        ``bytes`` are accepted too (templated).
    :param mapping_parameters: ``{entityType: entityName}`` or a list of
        ``{"entityType", "entityName"}`` (templated).
    :param locale: task locale, default ``en_US``.
    :param deferrable: defer to the triggerer while Anaplan works; default
        ``[operators] default_deferrable``.
    :param poll_interval: seconds between status polls (finite float >= 0.1, default 5; Anaplan asks for
        >= 5).
    :param timeout: wall-clock budget in seconds (finite, > 0) from the start of ``execute`` (default
        24 h, the same in both modes). When it passes, cancellation of the Anaplan task is requested
        and the Airflow task fails.
    :param fail_on_partial: fail when rows were rejected (failed/ignored) even if Anaplan reports
        ``successful: true`` (default True). False accepts imports with some rejected rows, also when
        Anaplan reports ``successful: false`` but some rows loaded; a task that loaded nothing still fails.
    :param dump_dir: directory for failure dumps (templated); default
        ``$AIRFLOW_HOME/anaplan_dumps/<dag>/<run>/<task>`` (system temp dir if AIRFLOW_HOME is unset).
    :param dump_preview_lines: lines of each dump shown in the log (default 5).
    """

    template_fields: Sequence[str] = (
        *AnaplanBaseOperator.template_fields,
        "action_id",
        "uploads",
        "mapping_parameters",
        "dump_dir",
    )
    template_fields_renderers = {"mapping_parameters": "json", "uploads": "py"}

    def __init__(
        self,
        *,
        action_id: str | int,
        uploads: Mapping[str, Any] | None = None,
        mapping_parameters: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        locale: str = "en_US",
        deferrable: bool | None = None,
        poll_interval: float = 5.0,
        timeout: float = DEFAULT_TIMEOUT,
        fail_on_partial: bool = True,
        dump_dir: str | None = None,
        dump_preview_lines: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action_id = str(action_id) if isinstance(action_id, int) else action_id
        self.uploads = dict(uploads) if uploads else {}
        self.mapping_parameters = mapping_parameters
        self.locale = locale
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval: float = validate_seconds(  # type: ignore[assignment]
            poll_interval, f"{self.task_id}: poll_interval", minimum=MIN_POLL_INTERVAL, inclusive=True
        )
        self.timeout: float = validate_seconds(timeout, f"{self.task_id}: timeout")  # type: ignore[assignment]
        if not isinstance(fail_on_partial, bool):
            raise AnaplanConfigError(f"{self.task_id}: fail_on_partial must be True or False, got {fail_on_partial!r}")
        self.fail_on_partial = fail_on_partial
        self.dump_dir = dump_dir
        self.dump_preview_lines = dump_preview_lines
        self._running: tuple[str, str] | None = None
        self._cancelled = False
        self._leases: list[dict[str, str]] = []

    # ---- hooks for subclasses -------------------------------------------------------------------
    def after_success(self, context: Context, status: TaskStatus) -> dict[str, Any]:
        """Extra work after a successful task (e.g. download an export); returns extra result keys."""
        return {}

    # ---- start / reattach ----------------------------------------------------------------------
    def _stored(self, context: Context) -> str | None:
        """The Anaplan task of a previous try to reattach to, or None when a new one must start.

        Never None merely because something failed transiently: a record that cannot be read, a start
        that cannot be resolved or a task whose status cannot be read fails this try instead, so that
        the next one decides with better information rather than starting a second task.
        """
        saved = read_state(context)
        if not saved or str(saved.get("action_id")) != str(self.action_id):
            return None
        self._leases = [dict(lease) for lease in saved.get("leases") or []]
        task_id = str(saved.get("task_id") or "")
        if not task_id and saved.get("intent"):
            task_id = self._resolve_previous_start(context, saved) or ""
        if not task_id:
            return None
        status = self._read_previous(task_id)
        cancelling_until = time.monotonic() + min(self.timeout, 300.0)
        while status is not None and status.state.value == "CANCELLING" and time.monotonic() < cancelling_until:
            # A previous try asked to cancel it (timeout): wait for the end rather than reattach to it.
            self.log.info("Previous Anaplan task %s is being cancelled; waiting for it to end", task_id)
            time.sleep(self.poll_interval)
            status = self._read_previous(task_id)
        if status is None:
            return None
        if not status.outcome.is_terminal or status.is_success:
            self.log.info(
                "Reattaching to Anaplan task %s of action %s started by a previous try (%s)",
                task_id,
                self.action_id,
                status.state.value,
            )
            return task_id
        self.log.warning("Previous Anaplan task %s ended %s; starting a new one", task_id, status.summary())
        return None

    def _resolve_previous_start(self, context: Context, saved: Mapping[str, Any]) -> str | None:
        """A previous try registered a start but never recorded its task (crash, lost answer, store
        failure): find the task by the client's rule, or prove there is none."""
        from airflow_provider_anaplan.client.coordination import StartIntent
        from airflow_provider_anaplan.exceptions import AnaplanTaskStartUnknownError

        intent = StartIntent.from_dict(saved["intent"])
        window = self.hook.get_client_config().start_confirm_window
        try:
            task_id = self.hook.resolve_start(intent, window=min(window, 30.0))
        except AnaplanTaskStartUnknownError as exc:
            age = time.time() - intent.since
            if exc.candidates or age < window:
                raise
            self.log.warning(
                "The previous try's start of %s (%.0f s ago) created no task in Anaplan; starting one now",
                self.action_id,
                age,
            )
            return None
        self.log.info("The previous try's start of %s created task %s", self.action_id, task_id)
        write_state(context, {**saved, "task_id": task_id})
        return task_id

    def _read_previous(self, task_id: str) -> TaskStatus | None:
        """Status of a previous try's task, read through transient failures (None: it no longer exists)."""
        from airflow_provider_anaplan.exceptions import AnaplanNotFoundError
        from airflow_provider_anaplan.triggers.task import is_permanent_error, poll_backoff

        deadline = time.monotonic() + min(self.timeout, 600.0)
        failures = 0
        while True:
            try:
                return self.hook.get_task_status(self.action_id, task_id)
            except AnaplanNotFoundError:
                self.log.warning("Previous Anaplan task %s no longer exists; starting a new one", task_id)
                return None
            except Exception as exc:
                if is_permanent_error(exc) or not _is_anaplan_error(exc) or time.monotonic() >= deadline:
                    raise
                failures += 1
                delay = poll_backoff(failures, self.poll_interval)
                self.log.warning(
                    "Reading previous Anaplan task %s failed (%s); not starting another, retry in %.1f s",
                    task_id,
                    exc,
                    delay,
                )
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))

    def _save(self, context: Context, task_id: str | None) -> None:
        """Forget the record (``task_id`` None: the task is terminal and must not be reattached) or
        record ``task_id``. Best effort here; the writes that guard against a second task raise."""
        try:
            if task_id is None:
                self._release_leases(context)  # terminal: the files are free again
                write_state(context, None)
            else:
                write_state(context, {"action_id": str(self.action_id), "task_id": task_id, "leases": self._leases})
        except Exception:
            self.log.warning("Could not update the task state store", exc_info=True)

    # ---- file leases: one writer per Anaplan file in the deployment --------------------------------
    def _take_leases(self, context: Context) -> None:
        """Lease every file this run uploads, for the whole run (upload until the task is terminal).

        The leases are recorded in the task state store at once, so a retry after a crash (even
        mid-upload) gives them back instead of waiting for its own lease. A lease nobody releases
        (a crash with no retry left) expires after ``min(timeout, 4 h) + 10 min``.
        """
        self._give_back(self._leases)  # a crashed previous try's leases are ours
        if not self.uploads:
            return
        for file_id in self.uploads:
            lease = self.hook.acquire_file_lease(
                str(file_id),
                hold_for=min(self.timeout, LEASE_MAX_SECONDS) + 600.0,
                wait=min(self.timeout, 3600.0),
                owner=f"{self.dag_id}.{self.task_id}",
            )
            self._leases.append(lease)
            write_state(context, {"action_id": str(self.action_id), "task_id": None, "leases": self._leases})

    def _release_leases(self, context: Context) -> None:
        leases = self._leases or []
        if not leases:
            try:
                saved = read_state(context) or {}
            except Exception:
                saved = {}
            leases = list(saved.get("leases") or [])
        self._give_back(leases)

    def _give_back(self, leases: list[dict[str, str]]) -> None:
        for lease in leases:
            try:
                self.hook.release_file_lease(lease)
            except Exception:
                self.log.warning("Could not release the lease on Anaplan file %s", lease.get("file_id"))
        self._leases = []

    def upload_sources(self) -> None:
        """Upload every ``{file_id: source}`` in ``uploads``."""
        for file_id, source in self.uploads.items():
            src = to_source(source)
            self.log.info("Uploading Anaplan file %s", file_id)
            if is_stream(src):
                self.hook.upload_file_stream(str(file_id), src)
            else:
                self.hook.upload_file(str(file_id), src)

    def start(self, context: Context) -> str:
        """Reattach to the previous try's task or upload + start a new one; push task id and link.

        The start intent is saved in the task state store before the task POST (a store that fails
        then stops the try before anything is sent) and the task id right after it.
        """
        import asyncio

        task_id = self._stored(context)
        if task_id is None:
            self._take_leases(context)
            self.upload_sources()
            action_id = str(self.action_id)
            leases = list(self._leases)

            async def remember(intent: Any) -> None:
                record = {"action_id": action_id, "intent": intent.to_dict(), "task_id": None, "leases": leases}
                await asyncio.to_thread(write_state, context, record)

            task_id = self.hook.start_task(
                self.action_id,
                mapping_parameters=self.mapping_parameters or None,
                locale=self.locale,
                on_intent=remember,
            )
            try:
                saved = read_state(context) or {"action_id": action_id, "leases": leases}
                write_state(context, {**saved, "task_id": task_id})
            except Exception as exc:  # the intent record and the start claim still lead a retry here
                self.log.error("Could not record Anaplan task %s in the task state store (%s)", task_id, exc)
            self.log.info("Started Anaplan task %s of action %s", task_id, self.action_id)
        self._running = (str(self.action_id), task_id)
        context["ti"].xcom_push(key=XCOM_TASK_ID_KEY, value=task_id)
        self.persist_model_link(context)
        return task_id

    # ---- execution -------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        from airflow_provider_anaplan.compat import TaskDeferred

        deferred = False
        try:
            return self._execute(context)
        except TaskDeferred:
            deferred = True  # the file leases stay held while the trigger waits
            raise
        finally:
            if not deferred:
                self._release_leases(context)
            self.hook.close()

    def _execute(self, context: Context) -> Any:
        end_time = time.time() + self.timeout  # one deadline, computed before any deferral
        task_id = self.start(context)
        if self.deferrable:
            status = self.hook.get_task_status(self.action_id, task_id)
            if status.is_terminal:
                return self.finish(context, status)
            from airflow_provider_anaplan.triggers.task import AnaplanTaskTrigger

            self.defer(
                trigger=AnaplanTaskTrigger(
                    anaplan_conn_id=self.anaplan_conn_id,
                    workspace_id=self.workspace_id,
                    model_id=self.model_id,
                    action_id=str(self.action_id),
                    task_id=task_id,
                    poll_interval=self.poll_interval,
                    end_time=end_time,
                ),
                method_name="execute_complete",
            )
        return self.finish(context, self.wait(task_id, end_time))

    def wait(self, task_id: str, end_time: float) -> TaskStatus:
        """Poll until terminal; at the deadline request cancellation and raise a timeout error.

        Like the trigger, a poll that fails transiently (5xx/429 after the client's retries, connection
        errors, a 401 one re-authentication did not cure) is logged and retried with backoff until the
        deadline; a permanent failure (404, 403, bad configuration ...) is raised at once.
        """
        from airflow_provider_anaplan.exceptions import AnaplanTaskTimeoutError
        from airflow_provider_anaplan.operators.jobs import JobDeadline, poll_until_terminal

        try:
            return poll_until_terminal(
                lambda: self.hook.get_task_status(self.action_id, task_id),
                label=f"Anaplan task {task_id}",
                poll_interval=self.poll_interval,
                end_time=end_time,
                logger=self.log,
            )
        except JobDeadline as deadline:
            message = (
                f"Anaplan task {task_id} of action {self.action_id} did not finish within "
                f"{self.timeout:g} s (last state {deadline.seen()}); {self.cancel_and_describe(task_id)}"
            )
            raise AnaplanTaskTimeoutError(message, status=deadline.last, object_id=task_id) from None

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger: validate the event (works on a fresh operator instance)."""
        try:
            return self._execute_complete(context, event)
        finally:
            self._release_leases(context)
            self.hook.close()

    def _execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Report exactly what the event says happened.

        ``success``/``failed``: the task is re-read and judged by the one outcome rule (:meth:`finish`).
        ``cancelled``: the task was cancelled in Anaplan (not by this operator). ``timeout``: the budget
        passed while the task was still running; cancellation is requested and the message says
        whether it took effect. ``error``: the trigger could not follow the task. Reattach state is
        cleared only for a task known to be terminal and not successful, so a retry never starts a
        second task while the first may still run, and reattaches to one that completed.
        """
        from airflow_provider_anaplan.exceptions import (
            AnaplanTaskCancelledError,
            AnaplanTaskError,
            AnaplanTaskTimeoutError,
        )

        if not isinstance(event, Mapping) or "status" not in event:
            raise AnaplanTaskError(f"Malformed Anaplan trigger event: {event!r}")
        status, message = event["status"], event.get("message") or ""
        task_id = str(event.get("task_id") or "")
        if event.get("action_id"):
            self.action_id = str(event["action_id"])
        self._running = (str(self.action_id), task_id)
        if status in ("success", "failed"):
            return self.finish(context, self.hook.get_task_status(self.action_id, task_id))
        if status == "timeout":
            raise AnaplanTaskTimeoutError(
                f"[timeout] {message} (budget {self.timeout:g} s); {self.cancel_and_describe(task_id, context)}",
                object_id=task_id,
            )
        if status == "cancelled":
            self._running = None
            self._save(context, None)  # CANCELLED is terminal: a retry starts a new task
            raise AnaplanTaskCancelledError(
                f"[cancelled] {message} (cancelled in Anaplan, not by this operator)", object_id=task_id
            )
        raise AnaplanTaskError(
            f"[{status}] {message} (the Anaplan task may still be running; a retry reattaches to it)",
            object_id=task_id,
        )

    def cancel_and_describe(self, task_id: str, context: Context | None = None) -> str:
        """The budget passed: request cancellation, re-read the task, and say exactly what happened.

        Reattach state is cleared (with ``context``) only when the task is then known to be terminal
        and not successful; a task that completed successfully meanwhile stays reattachable.
        """
        requested = self.cancel_quietly(task_id)
        status: TaskStatus | None
        try:
            status = self.hook.get_task_status(self.action_id, task_id)
        except Exception as exc:
            state = f"its state could not be read ({type(exc).__name__}: {exc})"
            status = None
        else:
            state = f"it is now {status.state.value}"
        if status is not None and status.outcome.is_terminal:
            self._running = None
            if not status.is_success and context is not None:
                self._save(context, None)
            if status.outcome.value == "cancelled":
                return f"cancellation was requested and {state}"
            return (
                f"{state} ({status.outcome.value}: it finished after the deadline before the cancellation "
                "took effect); a retry reuses its result"
                if status.is_success
                else f"{state} ({status.outcome.value}); a retry starts a new task"
            )
        if requested:
            return f"cancellation was requested; {state} (a retry reattaches to it if it is still running)"
        return f"cancelling it FAILED and {state}: it may still be running in Anaplan (a retry reattaches to it)"

    def finish(self, context: Context, status: TaskStatus) -> dict[str, Any]:
        """Validate a terminal status by the one outcome rule, fetch failure dumps, build the XCom result.

        Reattach state is cleared once the outcome is final: at once for a failed/cancelled task, and
        for a successful one only after :meth:`after_success` worked (a retry then reattaches to the
        completed task instead of running it again).
        """
        from airflow_provider_anaplan.client.status import TaskOutcome
        from airflow_provider_anaplan.exceptions import (
            AnaplanTaskCancelledError,
            AnaplanTaskError,
            AnaplanTaskFailedError,
        )

        self.log.info("Anaplan %s", status.summary())
        outcome = status.outcome
        if outcome is TaskOutcome.RUNNING:
            raise AnaplanTaskError(
                f"Anaplan {status.summary()}: the task has not finished (a retry reattaches to it)",
                status=status,
                object_id=status.task_id,
            )
        self._running = None
        if outcome is TaskOutcome.CANCELLED:
            self._save(context, None)
            raise AnaplanTaskCancelledError(f"Anaplan {status.summary()}", status=status, object_id=status.task_id)
        dumps = self.fetch_dumps(context, status)
        verdict = evaluate(status, fail_on_partial=self.fail_on_partial)
        if not verdict.ok:
            self._save(context, None)
            where = f"; failure dumps: {', '.join(dumps)}" if dumps else ""
            raise AnaplanTaskFailedError(
                f"Anaplan {status.summary()}: {verdict.reason}{where}", status=status, object_id=status.task_id
            )
        if verdict.reason:
            self.log.warning("Accepted with rejected rows (fail_on_partial=False): %s", verdict.reason)
        result = result_dict(status, dumps=dumps, accepted_partial=bool(verdict.reason))
        result.update(self.after_success(context, status))
        self._save(context, None)
        return result

    def resolve_dump_dir(self, context: Context, task_id: str) -> Path:
        if self.dump_dir:
            return Path(self.dump_dir).expanduser() / task_id
        home = os.environ.get("AIRFLOW_HOME") or tempfile.gettempdir()
        ti = context.get("ti")
        parts = [
            getattr(ti, "dag_id", None) or "dag",
            getattr(ti, "run_id", None) or "run",
            getattr(ti, "task_id", None) or self.task_id,
        ]
        if (map_index := getattr(ti, "map_index", -1)) is not None and map_index >= 0:
            parts[-1] += f"_{map_index}"
        safe = [re.sub(r"[^A-Za-z0-9._-]+", "_", str(p)) for p in parts]
        return Path(home, "anaplan_dumps", *safe, task_id)

    def fetch_dumps(self, context: Context, status: TaskStatus) -> list[str]:
        """Download failure dumps (import or process steps) and log their first lines; never raises."""
        has = status.failure_dump_available or any(n.failure_dump_available for n in status.nested)
        if not has:
            return []
        directory = self.resolve_dump_dir(context, status.task_id)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            paths = [str(p) for p in self.hook.download_failure_dumps(self.action_id, status, str(directory))]
        except Exception:
            self.log.warning("Could not download the failure dumps of task %s", status.task_id, exc_info=True)
            return []
        log_dumps(self.log, paths, self.dump_preview_lines)
        return paths

    def cancel_quietly(self, task_id: str) -> bool:
        """Request cancellation of the Anaplan task, best effort: a failure is logged, never raised.

        Returns whether the request was accepted (not whether the task is cancelled yet).
        """
        try:
            self.hook.cancel_task(self.action_id, task_id)
        except Exception:
            self.log.warning("Could not cancel Anaplan task %s", task_id, exc_info=True)
            return False
        self.log.info("Requested cancellation of Anaplan task %s of action %s", task_id, self.action_id)
        return True

    def on_kill(self) -> None:
        """Cancel the running Anaplan task once (best effort)."""
        if self._running is None or self._cancelled:
            return
        self._cancelled = True
        self.cancel_quietly(self._running[1])
        self._give_back(self._leases)
