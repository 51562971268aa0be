"""Crash and restart with real Airflow processes (issue 6, item 2).

* The triggerer is SIGKILLed while its trigger polls a long import, then started again: the new
  triggerer takes the orphaned trigger over (after ``triggerer_health_check_threshold``), the task
  succeeds and the emulator saw exactly one task creation and no cancel.
* The worker's task process is SIGKILLed in the middle of a sync (non-deferrable) import: Airflow
  marks the try failed and retries it; the retry reattaches to the Anaplan task the first try started
  (through the task state store) instead of starting a second one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_anaplan.testing.airflow_stack import AirflowStack, TaskSample
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .helpers import IMPORT_ID, PRODUCT_NAMES, PRODUCTS_LIST, report, summarize

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(420),
]

TASK_ID = "import_products"
#: How long the trigger must have been polling before the triggerer is killed.
POLL_BEFORE_KILL = 4.0
#: How long the triggerer stays dead (its job's heartbeat goes stale meanwhile).
DOWN_FOR = 3.0
#: How long the sync task keeps polling Anaplan before its process is killed.
RUN_BEFORE_KILL = 3.0


def emulator_tasks(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    """Every task the emulator holds for the import (its public ``to_api()`` form)."""
    return list(emulator.admin.tasks().get(IMPORT_ID, []))


def assert_one_task_and_result(
    stack: AirflowStack, emulator: EmulatorHandle, dag_id: str, run_id: str
) -> dict[str, Any]:
    """Exactly one Anaplan task was created, it succeeded, and XCom carries it; returns the XCom."""
    counters = emulator.admin.counters()
    assert counters["tasks_created"] == {IMPORT_ID: 1}, counters["tasks_created"]
    cancels = {k: v for k, v in counters["requests"].items() if k.startswith("DELETE") and "/tasks/" in k}
    assert not cancels, f"the Anaplan task was cancelled: {cancels}"
    tasks = emulator_tasks(emulator)
    assert len(tasks) == 1 and tasks[0]["taskState"] == "COMPLETE", tasks
    result = stack.xcom(dag_id, run_id, TASK_ID)
    assert isinstance(result, dict), result
    assert result["successful"] is True and result["action_id"] == IMPORT_ID, result
    assert result["task_id"] == tasks[0]["taskId"], (result, tasks)
    names = {item["name"] for item in emulator.admin.list_items(PRODUCTS_LIST)}
    assert names >= PRODUCT_NAMES, names
    return result


def test_triggerer_killed_and_restarted(
    airflow_stack: AirflowStack, emulator_process: EmulatorHandle
) -> None:
    """SIGKILL the triggerer mid-poll, start it again: success, one task creation, no cancel."""
    dag_id = "it_anaplan_triggerer_crash"
    events: dict[str, Any] = {}

    def on_sample(sample: TaskSample) -> None:
        if "killed_at" not in events:
            if sample.state == "deferred" and sample.triggerer_id is not None:
                events.setdefault("deferred_at", sample.at)
                if sample.at - events["deferred_at"] >= POLL_BEFORE_KILL:
                    events["old_triggerer"] = sample.triggerer_id
                    airflow_stack.kill_component("triggerer")
                    events["killed_at"] = time.monotonic()
                    events["tasks_at_kill"] = emulator_tasks(emulator_process)
            return
        if "restarted_at" not in events:
            # While no triggerer runs, nothing may move: the task stays deferred.
            assert sample.state == "deferred", f"task left deferral without a triggerer: {sample}"
            if sample.at - events["killed_at"] >= DOWN_FOR:
                airflow_stack.restart_component("triggerer")
                events["restarted_at"] = time.monotonic()
            return
        if sample.state == "deferred" and sample.triggerer_id not in (None, events["old_triggerer"]):
            events.setdefault("taken_over_at", sample.at)
            events["new_triggerer"] = sample.triggerer_id

    run_id = airflow_stack.trigger_dag(dag_id)
    state, samples = airflow_stack.watch_task(
        dag_id, run_id, TASK_ID, timeout=300, interval=0.5, on_sample=on_sample
    )
    log = airflow_stack.task_log(dag_id, run_id, TASK_ID)
    assert state == "success", f"{summarize(samples)}\n{log[-6000:]}"
    assert "killed_at" in events and "restarted_at" in events, (events, summarize(samples))

    # The kill hit a running import: Anaplan was still working on the (only) task.
    at_kill = events["tasks_at_kill"]
    assert len(at_kill) == 1 and at_kill[0]["taskState"] in ("NOT_STARTED", "IN_PROGRESS"), at_kill
    # A new triggerer job took the orphaned trigger over and polled it to the end.
    assert "new_triggerer" in events, f"no other triggerer took the trigger over: {events}"
    jobs = airflow_stack.triggerer_jobs()
    assert [j["id"] for j in jobs][-1] == events["new_triggerer"], jobs
    ti = airflow_stack.task_instance(dag_id, run_id, TASK_ID)
    assert ti["try_number"] == 1, ti  # the task itself never failed: no retry was needed
    assert_one_task_and_result(airflow_stack, emulator_process, dag_id, run_id)
    report(
        f"[triggerer crash] killed job {events['old_triggerer']} "
        f"{events['killed_at'] - events['deferred_at']:.1f} s into the deferral, restarted after "
        f"{events['restarted_at'] - events['killed_at']:.1f} s, job {events['new_triggerer']} took over "
        f"{events['taken_over_at'] - events['killed_at']:.1f} s after the kill; states {summarize(samples)}"
    )


def test_worker_task_process_killed_retry_reattaches(
    airflow_stack: AirflowStack, emulator_process: EmulatorHandle
) -> None:
    """SIGKILL the task process of a sync import: the retry reattaches; one task creation."""
    dag_id = "it_anaplan_worker_crash"
    events: dict[str, Any] = {}

    def on_sample(sample: TaskSample) -> None:
        if "killed_pid" in events or sample.state != "running" or sample.try_number != 1:
            return
        if not sample.consistent:
            return
        if "started_at" not in events:
            if emulator_process.admin.counters()["tasks_created"].get(IMPORT_ID):
                events["started_at"] = sample.at
            return
        if sample.at - events["started_at"] >= RUN_BEFORE_KILL:
            # A sync import holds its worker: the contrast with the deferrable test.
            events["running_sample"] = sample
            events["tasks_at_kill"] = emulator_tasks(emulator_process)
            events["killed_pid"] = airflow_stack.kill_task_process(dag_id, run_id, TASK_ID)

    run_id = airflow_stack.trigger_dag(dag_id)
    state, samples = airflow_stack.watch_task(
        dag_id, run_id, TASK_ID, timeout=300, interval=0.5, on_sample=on_sample
    )
    log = airflow_stack.task_log(dag_id, run_id, TASK_ID)
    assert state == "success", f"{summarize(samples)}\n{log[-6000:]}"
    assert "killed_pid" in events, f"the task process was never killed: {summarize(samples)}"

    running: TaskSample = events["running_sample"]
    assert running.task_processes == (events["killed_pid"],), running
    assert running.running_slots in (None, 1), running
    at_kill = events["tasks_at_kill"]
    assert len(at_kill) == 1 and at_kill[0]["taskState"] in ("NOT_STARTED", "IN_PROGRESS"), at_kill

    # Airflow saw the first try die and retried it.
    ti = airflow_stack.task_instance(dag_id, run_id, TASK_ID)
    assert ti["state"] == "success" and ti["try_number"] == 2, ti
    history = airflow_stack.task_history(dag_id, run_id, TASK_ID)
    assert [h["try_number"] for h in history] == [1], history
    assert history[0]["pid"] == events["killed_pid"], history
    states = [s.state for s in samples]
    assert "up_for_retry" in states, summarize(samples)

    # The retry reattached to the first try's Anaplan task instead of starting another.
    result = assert_one_task_and_result(airflow_stack, emulator_process, dag_id, run_id)
    assert "Reattaching to Anaplan task" in log, log[-6000:]
    assert result["task_id"] == at_kill[0]["taskId"]
    report(
        f"[worker crash] killed task process {events['killed_pid']} "
        f"{running.at - events['started_at']:.1f} s after the Anaplan task started; the retry reattached "
        f"to {result['task_id']}; states {summarize(samples)}"
    )
