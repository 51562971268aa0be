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

from airflow.sdk import BaseOperator, conf

from airflow_provider_anaplan.exceptions import AnaplanConfigError
from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.links.model import AnaplanModelLink
from airflow_provider_anaplan.operators.assets import anaplan_asset, static_id
from airflow_provider_anaplan.operators.results import evaluate, log_dumps, result_dict

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_anaplan.client.status import TaskStatus

#: Default wall-clock budget of a task (seconds), the same in sync and deferrable mode.
DEFAULT_TIMEOUT = 24 * 60 * 60.0
#: task_state_store key holding ``{"action_id", "task_id"}`` of the task in flight (kept across retries).
STATE_KEY = "anaplan_task"
XCOM_TASK_ID_KEY = "anaplan_task_id"


def default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def to_source(value: Any) -> Any:
    """Operator-level source rule: a ``str`` is a local path or an object-storage URI."""
    if isinstance(value, str):
        if "://" in value:
            from airflow.sdk import ObjectStoragePath

            return ObjectStoragePath(value)
        return Path(value).expanduser()
    return value


def to_destination(value: Any) -> Any:
    """Like :func:`to_source`, and create the destination's parent directory when possible."""
    dest = to_source(value)
    parent = getattr(dest, "parent", None)
    if parent is not None:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except Exception:  # object stores without directories, or no permission: let the write decide
            pass
    return dest


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
    :param poll_interval: seconds between status polls (float, default 5; Anaplan asks for >= 5).
    :param timeout: wall-clock budget in seconds from the start of ``execute`` (default 24 h, the same in
        both modes). When it passes, the Anaplan task is cancelled and the Airflow task fails.
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
        if poll_interval <= 0:
            raise AnaplanConfigError(f"{self.task_id}: poll_interval must be > 0 seconds, got {poll_interval!r}")
        if timeout <= 0:
            raise AnaplanConfigError(f"{self.task_id}: timeout must be > 0 seconds, got {timeout!r}")
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.fail_on_partial = fail_on_partial
        self.dump_dir = dump_dir
        self.dump_preview_lines = dump_preview_lines
        self._running: tuple[str, str] | None = None
        self._cancelled = False

    # ---- hooks for subclasses -------------------------------------------------------------------
    def after_success(self, context: Context, status: TaskStatus) -> dict[str, Any]:
        """Extra work after a successful task (e.g. download an export); returns extra result keys."""
        return {}

    # ---- start / reattach ----------------------------------------------------------------------
    def _stored(self, context: Context) -> str | None:
        store = context.get("task_state_store")
        if store is None:
            return None
        try:
            saved = store.get(STATE_KEY)
        except Exception:
            self.log.warning("Could not read the task state store; starting a new Anaplan task", exc_info=True)
            return None
        if not isinstance(saved, dict) or str(saved.get("action_id")) != str(self.action_id):
            return None
        task_id = str(saved.get("task_id") or "")
        if not task_id:
            return None
        try:
            status = self.hook.get_task_status(self.action_id, task_id)
        except Exception as exc:
            self.log.warning("Previous Anaplan task %s cannot be read (%s); starting a new one", task_id, exc)
            return None
        if not status.is_terminal or status.is_success:
            self.log.info(
                "Reattaching to Anaplan task %s of action %s started by a previous try (%s)",
                task_id,
                self.action_id,
                status.state.value,
            )
            return task_id
        self.log.warning("Previous Anaplan task %s ended %s; starting a new one", task_id, status.summary())
        return None

    def _save(self, context: Context, task_id: str | None) -> None:
        store = context.get("task_state_store")
        if store is None:
            if task_id:
                self.log.warning("task_state_store unavailable: a retry cannot reattach to task %s", task_id)
            return
        try:
            if task_id:
                store.set(STATE_KEY, {"action_id": str(self.action_id), "task_id": task_id})
            else:
                store.delete(STATE_KEY)
        except Exception:
            self.log.warning("Could not update the task state store", exc_info=True)

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
        """Reattach to the previous try's task or upload + start a new one; push task id and link."""
        task_id = self._stored(context)
        if task_id is None:
            self.upload_sources()
            task_id = self.hook.start_task(
                self.action_id, mapping_parameters=self.mapping_parameters or None, locale=self.locale
            )
            self._save(context, task_id)
            self.log.info("Started Anaplan task %s of action %s", task_id, self.action_id)
        self._running = (str(self.action_id), task_id)
        context["ti"].xcom_push(key=XCOM_TASK_ID_KEY, value=task_id)
        self.persist_model_link(context)
        return task_id

    # ---- execution -------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        try:
            return self._execute(context)
        finally:
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
        """Poll until terminal; at the deadline cancel the task and raise a timeout error."""
        from airflow_provider_anaplan.exceptions import AnaplanTaskTimeoutError
        from airflow_provider_anaplan.triggers.task import describe

        last = ""
        while True:
            status = self.hook.get_task_status(self.action_id, task_id)
            if status.is_terminal:
                return status
            if (desc := describe(status)) != last:
                self.log.info("Anaplan task %s: %s", task_id, desc)
                last = desc
            remaining = end_time - time.time()
            if remaining <= 0:
                message = (
                    f"Anaplan task {task_id} of action {self.action_id} did not finish within "
                    f"{self.timeout:g} s (last state {desc}); it was cancelled"
                )
                self.cancel_quietly(task_id)
                raise AnaplanTaskTimeoutError(message, status=status, object_id=task_id)
            time.sleep(min(self.poll_interval, remaining))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger: validate the event (works on a fresh operator instance)."""
        try:
            return self._execute_complete(context, event)
        finally:
            self.hook.close()

    def _execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
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
            self.cancel_quietly(task_id)
            self._save(context, None)
            raise AnaplanTaskTimeoutError(
                f"[timeout] {message} (budget {self.timeout:g} s); the Anaplan task was cancelled",
                object_id=task_id,
            )
        if status == "cancelled":
            self._save(context, None)
            raise AnaplanTaskCancelledError(f"[cancelled] {message}", object_id=task_id)
        raise AnaplanTaskError(f"[{status}] {message}", object_id=task_id)

    def finish(self, context: Context, status: TaskStatus) -> dict[str, Any]:
        """Validate a terminal status, fetch failure dumps, build the XCom result."""
        from airflow_provider_anaplan.exceptions import AnaplanTaskCancelledError, AnaplanTaskFailedError

        self._running = None
        self.log.info("Anaplan %s", status.summary())
        if status.state.value == "CANCELLED":
            self._save(context, None)
            raise AnaplanTaskCancelledError(f"Anaplan {status.summary()}", status=status, object_id=status.task_id)
        dumps = self.fetch_dumps(context, status)
        verdict = evaluate(status, fail_on_partial=self.fail_on_partial)
        self._save(context, None)
        if not verdict.ok:
            where = f"; failure dumps: {', '.join(dumps)}" if dumps else ""
            raise AnaplanTaskFailedError(
                f"Anaplan {status.summary()}: {verdict.reason}{where}", status=status, object_id=status.task_id
            )
        if verdict.reason:
            self.log.warning("Accepted with rejected rows (fail_on_partial=False): %s", verdict.reason)
        result = result_dict(status, dumps=dumps, accepted_partial=bool(verdict.reason))
        result.update(self.after_success(context, status))
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

    def cancel_quietly(self, task_id: str) -> None:
        """Cancel the Anaplan task, best effort: a failure is logged, never raised."""
        try:
            self.hook.cancel_task(self.action_id, task_id)
            self.log.info("Cancelled Anaplan task %s of action %s", task_id, self.action_id)
        except Exception:
            self.log.warning("Could not cancel Anaplan task %s", task_id, exc_info=True)

    def on_kill(self) -> None:
        """Cancel the running Anaplan task once (best effort)."""
        if self._running is None or self._cancelled:
            return
        self._cancelled = True
        self.cancel_quietly(self._running[1])
