"""A real Airflow run: scheduler, triggerer, dag-processor and api-server processes (LocalExecutor, SQLite).

``test_harness_deferrable_sensor`` checks the harness on its own with Airflow's standard deferrable
``TimeDeltaSensor``. ``test_deferrable_import_releases_the_worker`` triggers a DAG whose deferrable
``AnaplanImportOperator`` runs an import that takes 35 s in the emulator (a separate process) and
proves from the metadata database, the REST API and the process table that the task instance was
``deferred`` (with a trigger row held by the triggerer) while Anaplan worked, that no worker slot or
task process was held meanwhile, and that it ended ``success`` with the operator's result in XCom,
after exactly one Anaplan task creation.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_anaplan.testing.airflow_stack import AirflowStack, TaskSample
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .helpers import (
    IMPORT_ID,
    IMPORT_SECONDS,
    PRODUCT_NAMES,
    PRODUCTS_LIST,
    assert_no_worker_held,
    deferred_interval,
    report,
    summarize,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def test_harness_deferrable_sensor(airflow_stack: AirflowStack) -> None:
    """The harness alone: a standard deferrable sensor defers, frees the worker and succeeds."""
    dag_id = "it_harness_sensor"
    run_id = airflow_stack.trigger_dag(dag_id)
    state, samples = airflow_stack.watch_task(dag_id, run_id, "wait", timeout=180, interval=0.5)
    assert state == "success", summarize(samples)
    deferred, text = deferred_interval(samples)
    report(f"[harness sensor] {text}; states {summarize(samples)}")
    for s in deferred:
        assert s.trigger_id is not None
        if s.running_slots is not None:
            assert s.running_slots == 0, s
    assert airflow_stack.task_instance(dag_id, run_id, "wait")["state"] == "success"


def test_deferrable_import_releases_the_worker(
    airflow_stack: AirflowStack, emulator_process: EmulatorHandle
) -> None:
    """Deferred while the 35 s import runs, no worker held, success with the right XCom, one task."""
    dag_id, task_id = "it_anaplan_deferred_import", "import_products"
    trigger_rows: list[dict[str, Any]] = []
    anaplan_states: list[str] = []  # the Anaplan task's state at each deferred sample

    def on_sample(sample: TaskSample) -> None:
        if sample.state != "deferred":
            return
        tasks = emulator_process.admin.tasks().get(IMPORT_ID, [])
        anaplan_states.append(tasks[-1]["taskState"] if tasks else "NONE")
        if sample.trigger_id is not None and not trigger_rows:
            row = airflow_stack.trigger(sample.trigger_id)
            if row is not None:
                trigger_rows.append(row)

    run_id = airflow_stack.trigger_dag(dag_id)
    state, samples = airflow_stack.watch_task(
        dag_id, run_id, task_id, timeout=300, interval=0.5, on_sample=on_sample
    )
    log = airflow_stack.task_log(dag_id, run_id, task_id)
    assert state == "success", f"{summarize(samples)}\n{log[-6000:]}"

    deferred, text = deferred_interval(samples)
    report(f"[anaplan import] {text}; states {summarize(samples)}")
    # Deferred while Anaplan worked: the import takes IMPORT_SECONDS, and at (nearly) every deferred
    # sample the emulator reported the task in progress; the trigger polls every 2 s, so the task
    # instance leaves deferral within a poll or two of COMPLETE.
    span = deferred[-1].at - deferred[0].at
    assert span >= IMPORT_SECONDS - 10, f"deferred only {span:.1f} s for a {IMPORT_SECONDS:.0f} s import"
    in_progress = anaplan_states.count("IN_PROGRESS")
    assert in_progress >= 0.8 * len(anaplan_states), anaplan_states
    assert set(anaplan_states) <= {"NOT_STARTED", "IN_PROGRESS", "COMPLETE"}, anaplan_states
    assert trigger_rows, "no trigger row seen while deferred"
    assert trigger_rows[0]["classpath"].endswith("AnaplanTaskTrigger"), trigger_rows[0]
    assert any(s.triggerer_id is not None for s in deferred), "no triggerer picked the trigger up"
    # No worker slot held: see assert_no_worker_held for the evidence (pool slot counts from the
    # REST API; no task process and only idle LocalExecutor workers in the process table).
    settled = assert_no_worker_held(deferred)
    # The process-table probe is not blind: before the deferral, while the task was queued or
    # running, it saw the LocalExecutor worker busy with this task (when that phase was sampled).
    before = [s for s in samples if s.state in ("queued", "running") and s.at < deferred[0].at]
    if before and before[-1].at - before[0].at >= 2.0:
        assert any(s.busy_workers or s.task_processes for s in before), before
    report(
        f"[anaplan import] {len(settled)} settled deferred samples: 0 running/queued/occupied slots, "
        f"no task process, every LocalExecutor worker idle; Anaplan task IN_PROGRESS at {in_progress} "
        f"of {len(anaplan_states)} deferred samples"
    )

    ti = airflow_stack.task_instance(dag_id, run_id, task_id)
    assert ti["state"] == "success" and ti["try_number"] == 1, ti
    assert ti["trigger_id"] is None and ti["next_method"] is None, ti

    result = airflow_stack.xcom(dag_id, run_id, task_id)
    assert isinstance(result, dict), result
    assert result["successful"] is True, result
    assert result["action_id"] == IMPORT_ID, result
    assert result["state"] == "COMPLETE", result

    counters = emulator_process.admin.counters()
    assert counters["tasks_created"] == {IMPORT_ID: 1}, counters["tasks_created"]
    tasks = [t for group in emulator_process.admin.tasks().values() for t in group]
    assert [t.get("taskId") for t in tasks] == [result["task_id"]], tasks
    names = {item["name"] for item in emulator_process.admin.list_items(PRODUCTS_LIST)}
    assert names >= PRODUCT_NAMES, names
