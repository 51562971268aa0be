"""CloudWorks runs: move objects between the object store and model files, run the model's actions.

An import integration copies each job's object into the import's model file, then runs the import
action through the emulator's task engine (so the list/module data really changes). An export
integration runs the export action, then writes the export file to the object. A process integration
stages its inbound jobs, runs the process, then writes its outbound jobs. Flows run their steps'
integrations one after another. Outcomes (Anaplan's CloudWorks conventions):

* every row loaded: ``success: true``, ``message: "Success"``, ``executionErrorCode: null``;
* some rows rejected, some loaded: ``success: true``, ``executionErrorCode: 38`` (partial success),
  the row counts in ``message``; the failure dump is kept with the run;
* every row rejected: ``success: false``, ``executionErrorCode: 12`` (data-type mismatch);
* anything else failing (missing object, model offline, fatal import error): ``success: false``,
  ``executionErrorCode: null``, the reason in ``message``;
* cancelled: ``success: false``, ``message: "Cancelled"``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .objectstore import object_store
from .state import ChunkSet, EmulatorState, Model, Task
from .state.alm import iso_now
from .state.cloudworks import CloudWorksState, Flow, Integration, Run, cloudworks_state

log = logging.getLogger(__name__)

PARTIAL_SUCCESS = 38
DATA_TYPE_MISMATCH = 12
_UNAVAILABLE = ("LOCKED", "MAINTENANCE", "PRODUCTION_MAINTENANCE", "ARCHIVED")


class _Stop(Exception):
    """The run ends early (message, code)."""

    def __init__(self, message: str, code: int | None = None, cancelled: bool = False) -> None:
        super().__init__(message)
        self.message, self.code, self.cancelled = message, code, cancelled


@dataclass
class _Outcome:
    """The verdict of one Anaplan action's result."""

    ok: bool
    partial: bool
    loaded: int
    failed: int
    message: str


def _counts(result: dict[str, Any]) -> tuple[int, int] | None:
    for detail in result.get("details") or []:
        values = detail.get("values") or []
        pairs = dict(zip(values[0::2], values[1::2], strict=False))
        if "successRowCount" in pairs:
            return int(pairs["successRowCount"]), int(pairs.get("failedCount", 0))
    return None


def _verdict(result: dict[str, Any]) -> _Outcome:
    counts = _counts(result)
    name = result.get("objectName") or result.get("objectId")
    if result.get("successful") is True:
        loaded = counts[0] if counts else 0
        return _Outcome(True, False, loaded, 0, "Success")
    if counts is not None and counts[1] > 0:
        loaded, failed = counts
        if loaded > 0:
            return _Outcome(True, True, loaded, failed, f"{name}: {loaded} rows loaded, {failed} rows failed")
        return _Outcome(False, False, 0, failed, f"{name}: 0 rows loaded, {failed} rows failed")
    texts = [str(d.get("localMessageText", "")) for d in result.get("details") or []]
    return _Outcome(False, False, 0, 0, f"{name}: {'; '.join(t for t in texts if t) or 'failed'}")


class Runner:
    """Executes runs for one emulator (``request.app.state.emulator``)."""

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.state: EmulatorState = emulator.state
        self.cw: CloudWorksState = cloudworks_state(self.state)

    # ------------------------------------------------------------------ starting
    def start_integration(self, integration: Integration, user_name: str, flow_id: str | None = None) -> Run:
        run = self._new_run(integration.id, "integration", user_name, flow_id)
        run.worker = asyncio.get_running_loop().create_task(
            self._guard(run, self._integration(run, integration))
        )
        return run

    def start_flow(self, flow: Flow, steps: list[str] | None, user_name: str) -> Run:
        run = self._new_run(flow.id, "flow", user_name, flow.id)
        run.worker = asyncio.get_running_loop().create_task(self._guard(run, self._flow(run, flow, steps)))
        return run

    def _new_run(self, owner: str, kind: str, user_name: str, flow_id: str | None) -> Run:
        run = Run(
            id=uuid.uuid4().hex,
            owner_id=owner,
            kind=kind,
            trace_id=uuid.uuid4().hex,
            start=iso_now(),
            created_by=user_name,
            flow_group_id=flow_id,
        )
        self.cw.runs[run.id] = run
        return run

    def cancel(self, run: Run) -> None:
        """Ask ``run`` (and the Anaplan task it waits on) to stop."""
        run.cancel_requested = True
        for step_id in run.step_runs:
            step = self.cw.runs.get(step_id)
            if step is not None and not step.finished:
                self.cancel(step)
        for task_id in run.task_ids:
            for model in self.state.models.values():
                task = model.find_task(task_id)
                if task is not None and not task.terminal:
                    self.emulator.engine.cancel(model, task)

    # ------------------------------------------------------------------ running
    async def _guard(self, run: Run, body: Any) -> None:
        try:
            await body
        except _Stop as stop:
            if stop.cancelled or run.cancel_requested:
                run.finish(False, "Cancelled")
            else:
                run.finish(False, stop.message, stop.code)
        except asyncio.CancelledError:
            if not run.finished:
                run.finish(False, "Cancelled")
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must not leave a run running forever
            log.exception("CloudWorks run %s failed inside the emulator", run.id)
            run.finish(False, f"Internal emulator error: {exc}")

    async def _pause(self, run: Run, seconds: float) -> None:
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            self._check(run)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(0.02, left))

    def _check(self, run: Run) -> None:
        if run.cancel_requested:
            raise _Stop("Cancelled", cancelled=True)
        if self.emulator.state is not self.state:
            raise _Stop("The emulator was reset")

    def _model(self, integration: Integration) -> Model:
        model = self.state.models.get(integration.model_id)
        if model is None:
            raise _Stop("Anaplan model was deleted")
        if model.active_state in _UNAVAILABLE:
            raise _Stop(f"Anaplan model {model.id} is not available ({model.active_state}): bring it online")
        return model

    async def _integration(self, run: Run, integration: Integration) -> None:
        half = self.cw.settings.run_seconds / 2
        await self._pause(run, half)
        run.phase, run.message = "Running", "Running"
        model = self._model(integration)
        await self._pause(run, half)
        if integration.type == "Import":
            outcomes = []
            for job in integration.jobs:  # one job each, in order
                self._stage(model, job)
                action_id = str(job["targets"][0]["actionId"])
                result = await self._run_task(run, model, action_id, "import")
                outcomes.append((action_id, result))
        elif integration.type == "Export":
            action_id = str(integration.jobs[0]["sources"][0]["actionId"])
            result = await self._run_task(run, model, action_id, "export")
            outcomes = [(action_id, result)]
            if result.get("successful") is True:
                self._publish(model, integration.jobs)
        else:
            for job in integration.jobs:
                if str(job.get("type", "")).endswith("ToAnaplan"):
                    self._stage(model, job)
            process_id = str(integration.process_id)
            result = await self._run_task(run, model, process_id, "process")
            outcomes = [(str(n.get("objectId")), n) for n in result.get("nestedResults") or []] or [
                (process_id, result)
            ]
            if result.get("successful") is True or all(_verdict(r).ok for _, r in outcomes):
                self._publish(
                    model, [j for j in integration.jobs if str(j.get("type", "")).startswith("AnaplanTo")]
                )
        self._conclude(run, model, integration, outcomes, result)

    def _conclude(
        self,
        run: Run,
        model: Model,
        integration: Integration,
        outcomes: list[tuple[str, dict[str, Any]]],
        result: dict[str, Any],
    ) -> None:
        verdicts = [(action_id, r, _verdict(r)) for action_id, r in outcomes]
        owner = integration.process_id or ""
        for action_id, raw, verdict in verdicts:
            dump = model.dumps.get((owner or action_id, action_id))
            has_dump = dump is not None and bool(raw.get("failureDumpAvailable"))
            if has_dump and dump is not None:
                run.dumps[action_id] = dump.content.read_all()
            if not verdict.ok or verdict.partial:
                run.errors.append(
                    {
                        "errorMessage": list(raw.get("details") or []),
                        "actionId": action_id,
                        "actionName": model.object_name(action_id),
                        "failureDumpGenerated": has_dump,
                    }
                )
        failed = [v for _, _, v in verdicts if not v.ok]
        partial = [v for _, _, v in verdicts if v.partial]
        if failed:
            code = DATA_TYPE_MISMATCH if all(v.failed > 0 for v in failed) else None
            message = (
                failed[0].message if integration.type != "Process" else f"Process failed: {failed[0].message}"
            )
            run.finish(False, message, code)
        elif partial:
            run.finish(True, "Partial success: " + "; ".join(v.message for v in partial), PARTIAL_SUCCESS)
        else:
            run.finish(True, "Success")

    def _stage(self, model: Model, job: dict[str, Any]) -> None:
        """Copy a job's source object into the target model file."""
        source, target = job["sources"][0], job["targets"][0]
        connection = self.cw.connections.get(str(source.get("connectionId")))
        if connection is None:
            raise _Stop(f"Connection {source.get('connectionId')} was deleted")
        key = str(source.get("file", ""))
        try:
            data = object_store().read(connection.bucket, key)
        except (FileNotFoundError, ValueError):
            raise _Stop(f"File {key} not found in bucket {connection.bucket}") from None
        file_obj = model.files.get(str(target.get("fileId")))
        if file_obj is None:
            raise _Stop(f"Anaplan file {target.get('fileId')} not found in model {model.id}")
        file_obj.content.clear()
        file_obj.content = ChunkSet.from_bytes(data, self.state.config.export_chunk_size)
        file_obj.declared_chunks = len(file_obj.content)

    def _publish(self, model: Model, jobs: list[dict[str, Any]]) -> None:
        """Write each export job's model file to its target object."""
        for job in jobs:
            source, target = job["sources"][0], job["targets"][0]
            connection = self.cw.connections.get(str(target.get("connectionId")))
            if connection is None:
                raise _Stop(f"Connection {target.get('connectionId')} was deleted")
            key = str(target.get("file", ""))
            store = object_store()
            if not target.get("overwrite", True) and store.exists(connection.bucket, key):
                raise _Stop(f"File {key} already exists in bucket {connection.bucket} and overwrite is off")
            file_obj = model.files.get(str(source.get("actionId")))
            data = file_obj.content.read_all() if file_obj is not None else b""
            store.write(connection.bucket, key, data)

    async def _run_task(self, run: Run, model: Model, action_id: str, kind: str) -> dict[str, Any]:
        """Run one Anaplan action through the task engine and wait for it."""
        self._check(run)
        user = next(iter(self.state.users.values()), None)
        task = Task(
            id=uuid.uuid4().hex.upper(),
            action_id=action_id,
            kind=kind,
            model_id=model.id,
            user_id=user.id if user else "",
            created_ms=int(time.time() * 1000),
        )
        model.tasks.setdefault(action_id, []).append(task)
        self.state.counters.task_created(action_id, task.id, {}, task.created_ms, task.user_id)
        run.task_ids.append(task.id)
        self.emulator.engine.submit(model, task)
        while not task.terminal:
            if self.emulator.state is not self.state:
                raise _Stop("The emulator was reset")
            if run.cancel_requested and not task.cancel_requested:
                self.emulator.engine.cancel(model, task)
            await asyncio.sleep(0.02)
        if task.state == "CANCELLED":
            raise _Stop("Cancelled", cancelled=True)
        return task.result or {}

    async def _flow(self, run: Run, flow: Flow, only: list[str] | None) -> None:
        await self._pause(run, self.cw.settings.run_seconds / 2)
        run.phase, run.message = "Running", "Running"
        partial: list[str] = []
        failures: list[str] = []
        for step in flow.steps:
            if (only is not None and step.referrer not in only) or (only is None and step.is_skipped):
                continue
            self._check(run)
            integration = self.cw.integrations.get(step.referrer)
            if integration is None:
                failures.append(f"step {step.referrer}: the integration was deleted")
                if step.strategy("failure") == "stop":
                    break
                continue
            if self.cw.active_run(integration.id) is not None:
                failures.append(f"{integration.name}: Integration is already running")
                if step.strategy("failure") == "stop":
                    break
                continue
            child = self.start_integration(integration, run.created_by, flow.id)
            run.step_runs.append(child.id)
            while not child.finished:
                if run.cancel_requested:
                    self.cancel(child)
                await asyncio.sleep(0.02)
            if run.cancel_requested:
                raise _Stop("Cancelled", cancelled=True)
            if not child.success:
                failures.append(f"{integration.name}: {child.message}")
                if step.strategy("failure") == "stop":
                    break
            elif child.error_code == PARTIAL_SUCCESS:
                partial.append(f"{integration.name}: {child.message}")
                if step.strategy("partial_success") == "stop":
                    break
        if failures:
            run.finish(False, "Flow failed: " + "; ".join(failures))
        elif partial:
            run.finish(True, "Partial success: " + "; ".join(partial), PARTIAL_SUCCESS)
        else:
            run.finish(True, "Success")
