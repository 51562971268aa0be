"""Task runner: one task at a time per model, the rest queue (NOT_STARTED).

Each import, export or delete step is parsed/rendered in a worker thread, then "runs" for
``rows / rows_per_second`` seconds (progress and currentStep move), then is applied to the model
atomically. Cancelling during a step discards that step (CANCELLING -> CANCELLED); steps of a
process that already finished stay applied (processes are not atomic).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio

from .csvio import (
    ImportFatal,
    Staged,
    format_value,
    render_dump,
    render_rows,
    stage_list_import,
    stage_module_import,
)
from .state import ChunkSet, Dump, EmulatorState, Model, Task

log = logging.getLogger(__name__)


class _Cancelled(Exception):
    """Raised inside a run when the task's cancellation was requested."""


@dataclass
class StepOutcome:
    """Result of one step (import/export/action)."""

    result: dict[str, Any]
    fatal: bool = False
    dump: bytes | None = None


def _detail(text: str, kind: str, values: list[str] | None = None, occurrences: int = 0) -> dict[str, Any]:
    return {"localMessageText": text, "occurrences": occurrences, "type": kind, "values": values or []}


class Engine:
    """Owns the per-model queues and worker coroutines (all on the server's event loop)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.queues: dict[str, deque[Task]] = {}
        self.workers: dict[str, asyncio.Task[None]] = {}

    # ------------------------------------------------------------------ queueing
    @staticmethod
    def pending(model: Model) -> int:
        """Tasks of ``model`` not finished yet (running or queued)."""
        return sum(1 for tasks in model.tasks.values() for t in tasks if not t.terminal)

    def submit(self, model: Model, task: Task) -> None:
        """Queue ``task``; start the model's worker if idle."""
        self.queues.setdefault(model.id, deque()).append(task)
        worker = self.workers.get(model.id)
        if worker is None or worker.done():
            self.workers[model.id] = asyncio.get_running_loop().create_task(self._worker(model))

    def cancel(self, model: Model, task: Task) -> None:
        """Request cancellation (immediate for a queued task)."""
        if task.terminal or task.state == "CANCELLING":
            return
        if task.state == "NOT_STARTED":
            queue = self.queues.get(model.id)
            if queue and task in queue:
                queue.remove(task)
            self._finish_cancelled(task)
            return
        task.cancel_requested = True
        task.state = "CANCELLING"
        task.current_step = "Cancelling."

    async def shutdown(self) -> None:
        """Stop every worker (used by reset)."""
        workers = list(self.workers.values())
        for worker in workers:
            worker.cancel()
        for worker in workers:
            try:
                await worker
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - best effort on reset
                pass
        self.workers.clear()
        self.queues.clear()

    async def _worker(self, model: Model) -> None:
        queue = self.queues[model.id]
        while queue:
            task = queue.popleft()
            if task.terminal:
                continue
            try:
                await self._run(model, task)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug must not wedge the queue
                log.exception("task %s failed inside the emulator", task.id)
                task.state = "COMPLETE"
                task.progress = 1.0
                task.current_step = "Failed."
                task.result = {
                    "objectId": task.action_id,
                    "objectName": model.object_name(task.action_id),
                    "successful": False,
                    "failureDumpAvailable": False,
                    "details": [_detail(f"Internal emulator error: {exc}", "internalError")],
                }

    # ------------------------------------------------------------------ running
    async def _run(self, model: Model, task: Task) -> None:
        task.state = "IN_PROGRESS"
        task.progress = 0.0
        started = time.time()
        try:
            if task.kind == "process":
                result = await self._run_process(model, task)
            else:
                outcome = await self._run_step(model, task, task.action_id, task.action_id, 0.0, 1.0)
                result = outcome.result
        except _Cancelled:
            await self._cancelled(task)
            return
        result["startTime"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
        result["duration"] = f"{time.time() - started:.3f}s"
        task.result = result
        task.progress = 1.0
        task.current_step = "Complete."
        task.state = "COMPLETE"

    async def _cancelled(self, task: Task) -> None:
        task.state = "CANCELLING"
        task.current_step = "Cancelling."
        await asyncio.sleep(self.state.config.cancel_delay_seconds)
        self._finish_cancelled(task)

    def _finish_cancelled(self, task: Task) -> None:
        task.state = "CANCELLED"
        task.current_step = "Cancelled."
        task.result = {
            "objectId": task.action_id,
            "successful": False,
            "failureDumpAvailable": False,
            "details": [_detail("The task was cancelled.", "taskCancelled")],
        }

    async def _run_process(self, model: Model, task: Task) -> dict[str, Any]:
        process = model.processes[task.action_id]
        for key in [k for k in model.dumps if k[0] == process.id]:
            del model.dumps[key]
        nested: list[dict[str, Any]] = []
        steps = process.actions
        for index, step in enumerate(steps):
            task.current_step = f"Running step {index + 1} of {len(steps)}: {model.object_name(step)}"
            outcome = await self._run_step(
                model, task, step, process.id, index / len(steps), (index + 1) / len(steps)
            )
            nested.append(outcome.result)
            if outcome.fatal:
                break
        return {
            "objectId": process.id,
            "objectName": process.name,
            "successful": len(nested) == len(steps) and all(r["successful"] for r in nested),
            "failureDumpAvailable": any(r["failureDumpAvailable"] for r in nested),
            "nestedResults": nested,
            "details": [],
        }

    async def _run_step(
        self, model: Model, task: Task, object_id: str, owner_id: str, start: float, end: float
    ) -> StepOutcome:
        if object_id in model.imports:
            return await self._import(model, task, object_id, owner_id, start, end)
        if object_id in model.exports:
            return await self._export(model, task, object_id, start, end)
        if object_id in model.actions:
            return await self._delete(model, task, object_id, start, end)
        return StepOutcome(
            {
                "objectId": object_id,
                "successful": False,
                "failureDumpAvailable": False,
                "details": [_detail(f"Unknown action {object_id}", "unknownAction")],
            },
            fatal=True,
        )

    async def _pace(self, task: Task, rows: int, start: float, end: float, label: str) -> None:
        """Spend ``rows / rows_per_second`` seconds, moving progress from ``start`` to ``end``."""
        cfg = self.state.config
        duration = max(cfg.min_task_seconds, rows / cfg.rows_per_second if cfg.rows_per_second > 0 else 0.0)
        if task.kind != "process":
            task.current_step = label
        begin = time.monotonic()
        while True:
            if task.cancel_requested:
                raise _Cancelled
            elapsed = time.monotonic() - begin
            if elapsed >= duration:
                break
            task.progress = start + (end - start) * (elapsed / duration)
            await asyncio.sleep(min(0.02, duration - elapsed))
        task.progress = end
        if task.cancel_requested:
            raise _Cancelled

    # ------------------------------------------------------------------ imports
    async def _import(
        self, model: Model, task: Task, import_id: str, owner_id: str, start: float, end: float
    ) -> StepOutcome:
        imp = model.imports[import_id]
        base = {"objectId": imp.id, "objectName": imp.name}
        dump_key = (owner_id, imp.id)
        model.dumps.pop(dump_key, None)

        def fatal(message: str) -> StepOutcome:
            return StepOutcome(
                {
                    **base,
                    "successful": False,
                    "failureDumpAvailable": False,
                    "details": [_detail(message, "importFailed")],
                },
                fatal=True,
            )

        file_obj = model.files.get(imp.file_id)
        if file_obj is None or len(file_obj.content) == 0:
            return fatal(f"The import file {imp.file_id} has no content: upload it before running {imp.name}")
        expected = file_obj.declared_chunks if file_obj.declared_chunks > 0 else len(file_obj.content)
        if file_obj.declared_chunks != -1 and file_obj.content.indices() != list(range(expected)):
            return fatal(
                f"The upload of file {imp.file_id} is incomplete: {len(file_obj.content)} of "
                f"{expected} chunks received"
            )
        if file_obj.declared_chunks == -1:
            return fatal(f"The upload of file {imp.file_id} was not completed (POST .../complete)")
        try:
            staged = await self._stage_import(model, task, imp, file_obj.content)
        except ImportFatal as exc:
            return fatal(str(exc))
        await self._pace(task, staged.total, start, end, f"Importing {imp.name}")
        self._apply_import(model, imp, staged)
        target_name = (model.lists.get(imp.target_id) or model.modules[imp.target_id]).name
        kind = "hierarchyRowsProcessed" if imp.target_kind == "list" else "moduleRowsProcessed"
        details = [
            _detail(
                f"{target_name}: {staged.successful_rows} ({staged.created}/{staged.updated}) rows successful, "
                f"{staged.ignored} ignored ",
                kind,
                [
                    "hierarchyName" if imp.target_kind == "list" else "moduleName", target_name,
                    "successRowCount", str(staged.successful_rows),
                    "successCreateCount", str(staged.created),
                    "successUpdateCount", str(staged.updated),
                    "failedCount", str(len(staged.errors)),
                    "ignoredCount", str(staged.ignored),
                    "totalRowCount", str(staged.total),
                ],
            )
        ]  # fmt: skip
        dump = None
        if staged.errors:
            details.append(
                _detail(
                    f"{len(staged.errors)} rows failed; the failure dump lists them. First: "
                    f"line {staged.errors[0].line}: {staged.errors[0].message}",
                    "importRowsFailed",
                    [e.message for e in staged.errors[:10]],
                    occurrences=len(staged.errors),
                )
            )
            dump = await anyio.to_thread.run_sync(render_dump, staged)
            content = await anyio.to_thread.run_sync(
                ChunkSet.from_bytes, dump, self.state.config.export_chunk_size
            )
            model.dumps[dump_key] = Dump(task_id=task.id, content=content, created=time.time())
        return StepOutcome(
            {
                **base,
                "successful": not staged.errors,
                "failureDumpAvailable": bool(staged.errors),
                "details": details,
            },
            dump=dump,
        )

    async def _stage_import(self, model: Model, task: Task, imp: Any, content: ChunkSet) -> Staged:
        data = await anyio.to_thread.run_sync(content.read_all)
        if imp.target_kind == "list":
            lst = model.lists[imp.target_id]
            return await anyio.to_thread.run_sync(
                stage_list_import,
                data,
                imp.source,
                imp.columns,
                lst.name,
                dict(lst.properties),
                set(lst.items),
            )
        module = model.modules[imp.target_id]
        pinned = dict(imp.fixed)
        for entity in imp.mapping_parameters:
            if entity not in task.mapping:
                raise ImportFatal(
                    f"Mapping parameter '{entity}' is required: pass mappingParameters "
                    f'[{{"entityType": "{entity}", "entityName": ...}}]'
                )
            pinned[entity] = task.mapping[entity]
        dims: list[tuple[str, list[str], str]] = []
        for dim in module.dimensions:
            if dim.list_id is not None:
                lst = model.lists[dim.list_id]
                dims.append((dim.name, list(lst.items), f"a member of {lst.name}"))
            else:
                dims.append((dim.name, list(dim.items or []), f"a valid item of {dim.name}"))
        for name, item in pinned.items():
            allowed = next((d for d in dims if d[0] == name), None)
            if allowed is not None and item not in allowed[1]:
                source = "Mapping parameter" if name in imp.mapping_parameters else "Fixed item"
                raise ImportFatal(f"{source} {name}: '{item}' is not {allowed[2]}")
        return await anyio.to_thread.run_sync(
            stage_module_import,
            data,
            imp.source,
            imp.columns,
            dims,
            pinned,
            module.data_type,
            module.line_item,
            set(module.cells),
        )

    @staticmethod
    def _apply_import(model: Model, imp: Any, staged: Staged) -> None:
        if imp.target_kind == "list":
            lst = model.lists[imp.target_id]
            for name, values in staged.list_rows.items():
                member = lst.items.get(name)
                if member is None:
                    member = {"code": "", **{p: lst.default_value(p) for p in lst.properties}}
                    lst.items[name] = member
                member.update(values)
        else:
            model.modules[imp.target_id].cells.update(staged.cells)

    # ------------------------------------------------------------------ exports
    async def _export(
        self, model: Model, task: Task, export_id: str, start: float, end: float
    ) -> StepOutcome:
        exp = model.exports[export_id]
        header = list(exp.columns)
        rows: list[list[str]] = []
        if exp.source_kind == "list":
            lst = model.lists[exp.source_id]
            for name, data in lst.items.items():
                rows.append(
                    [format_value(name if f == "name" else data.get(f)) for f in exp.columns.values()]
                )
        else:
            module = model.modules[exp.source_id]
            order: list[dict[str, int]] = []
            for dim in module.dimensions:
                items = list(model.lists[dim.list_id].items) if dim.list_id else list(dim.items or [])
                order.append({item: i for i, item in enumerate(items)})
            keys = [
                k
                for k in module.cells
                if all(f not in exp.filter or k[module.dim_index(f)] == v for f, v in exp.filter.items())
            ]
            keys.sort(key=lambda k: tuple(order[i].get(part, 1 << 30) for i, part in enumerate(k)))
            positions = [None if f == "value" else module.dim_index(f) for f in exp.columns.values()]
            for key in keys:
                rows.append([format_value(module.cells[key]) if p is None else key[p] for p in positions])
        rendered = await anyio.to_thread.run_sync(render_rows, header, rows, exp.format)
        await self._pace(task, len(rows), start, end, f"Exporting {exp.name}")
        content = await anyio.to_thread.run_sync(
            ChunkSet.from_bytes, rendered, self.state.config.export_chunk_size
        )
        file_obj = model.files[exp.id]
        file_obj.content.clear()
        file_obj.content = content
        file_obj.declared_chunks = len(content)
        return StepOutcome(
            {
                "objectId": exp.id,
                "objectName": exp.name,
                "successful": True,
                "failureDumpAvailable": False,
                "details": [
                    _detail(f"{len(rows)} rows exported", "exportSucceeded", ["rowCount", str(len(rows))])
                ],
            }
        )

    # ------------------------------------------------------------------ delete actions
    async def _delete(
        self, model: Model, task: Task, action_id: str, start: float, end: float
    ) -> StepOutcome:
        action = model.actions[action_id]
        lst = model.lists[action.list_id]
        doomed = [
            name
            for name, data in lst.items.items()
            if all(
                data.get(prop) == value or format_value(data.get(prop)) == format_value(value)
                for prop, value in action.where.items()
            )
        ]
        await self._pace(task, max(len(lst.items), 1), start, end, f"Running {action.name}")
        for name in doomed:
            del lst.items[name]
        doomed_set = set(doomed)
        for module in model.modules.values():
            indexes = [i for i, d in enumerate(module.dimensions) if d.list_id == lst.id]
            if indexes and doomed_set:
                for key in [k for k in module.cells if any(k[i] in doomed_set for i in indexes)]:
                    del module.cells[key]
        return StepOutcome(
            {
                "objectId": action.id,
                "objectName": action.name,
                "successful": True,
                "failureDumpAvailable": False,
                "details": [
                    _detail(
                        f"{lst.name}: {len(doomed)} items deleted",
                        "deleteSucceeded",
                        ["deletedCount", str(len(doomed))],
                    )
                ],
            }
        )
