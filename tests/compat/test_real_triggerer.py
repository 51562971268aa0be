"""A user kills a deferred Anaplan task in a real deployment: the Anaplan task is cancelled, once.

A real scheduler, triggerer, dag-processor and api-server (LocalExecutor, SQLite) and an emulator
process whose import lasts minutes. While the task instance is deferred the triggerer is stopped
(SIGTERM) and started again: its trigger is cancelled but the task instance is still deferred, so the
Anaplan task must keep running. Then the task instance is marked failed through the REST API, as the
UI does: Airflow >= 3.3 calls the trigger's ``on_kill()``, Airflow 3.1/3.2 cancel the trigger and call
its ``cleanup()``, which finds the task instance no longer deferred (docs/compatibility.md) — either
way the emulator must see exactly one cancellation.
"""

from __future__ import annotations

import signal
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_anaplan.testing.airflow_stack import AirflowStack
from airflow_provider_anaplan.testing.pytest_plugin import run_emulator_subprocess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DAG_ID, TASK_ID, IMPORT_ID = "compat_kill_deferred_import", "import_products", "112000000000"


def cancels(emulator: Any) -> int:
    requests = emulator.admin.counters()["requests"]
    return sum(n for k, n in requests.items() if k.startswith("DELETE") and "/tasks/" in k)


def anaplan_state(emulator: Any) -> str:
    tasks = emulator.admin.tasks().get(IMPORT_ID, [])
    return tasks[-1]["taskState"] if tasks else "NONE"


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[AirflowStack, Any]]:
    with run_emulator_subprocess() as emulator:
        emulator.admin.configure(min_task_seconds=600)
        stack = AirflowStack(
            Path(__file__).with_name("dags"), env={"AIRFLOW_CONN_ANAPLAN_DEFAULT": emulator.airflow_connection()}
        )
        try:
            stack.start(timeout=300)
        except BaseException:
            print(stack.dump_logs())
            stack.stop()
            raise
        try:
            yield stack, emulator
        finally:
            stack.stop()


def test_kill_of_a_deferred_task_cancels_the_anaplan_task(deployment: tuple[AirflowStack, Any]) -> None:
    stack, emulator = deployment
    run_id = stack.trigger_dag(DAG_ID, timeout=180)
    try:
        stack.wait_for_task_state(DAG_ID, run_id, TASK_ID, ["deferred"], timeout=240)
        time.sleep(3)  # the triggerer picks the trigger up and polls
        assert anaplan_state(emulator) == "IN_PROGRESS" and cancels(emulator) == 0

        # triggerer shutdown and restart: the trigger is cancelled, the task instance stays deferred
        stack.kill_component("triggerer", signal.SIGTERM)
        stack.restart_component("triggerer")
        time.sleep(8)
        assert stack.task_instance(DAG_ID, run_id, TASK_ID)["state"] == "deferred"
        assert cancels(emulator) == 0, "a triggerer shutdown cancelled the Anaplan task"
        assert anaplan_state(emulator) == "IN_PROGRESS"

        # the user marks the deferred task failed (the UI's PATCH)
        path = "/api/v2/dags/{}/dagRuns/{}/taskInstances/{}".format(
            *(urllib.parse.quote(p, safe="") for p in (DAG_ID, run_id, TASK_ID))
        )
        stack.api("PATCH", path, {"new_state": "failed"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and anaplan_state(emulator) not in ("CANCELLED", "CANCELLING"):
            time.sleep(0.5)
        assert anaplan_state(emulator) in ("CANCELLED", "CANCELLING"), stack.dump_logs(lines=80)
        time.sleep(3)
        assert cancels(emulator) == 1
        assert stack.task_instance(DAG_ID, run_id, TASK_ID)["state"] == "failed"
        logs = "\n".join(p.read_text(errors="replace") for p in stack.logs_dir.rglob("*") if p.is_file())
        assert "(task killed by user)" in logs  # the trigger's on_kill() did it, not a timeout or retry
    except BaseException:
        print(stack.dump_logs(lines=120))
        raise
