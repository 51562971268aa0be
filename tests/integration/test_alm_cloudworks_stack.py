"""Deferral through a real triggerer: one ALM sync and one CloudWorks integration run.

On the package's real scheduler + triggerer + dag-processor + api-server stack (LocalExecutor, SQLite)
and the emulator process: ``it_alm_sync_deferred`` creates a revision in the development model and
syncs it into the production model (the sync takes ``SYNC_SECONDS``); ``it_cloudworks_run_deferred``
runs a CloudWorks import integration (``RUN_SECONDS``). Each operator must be seen ``deferred`` with a
trigger row while Anaplan works, then end ``success`` with its result in XCom, the effect visible in
the emulator (the line item added in development is in production; the object's rows are in the
production model's list) and exactly one sync task / run created.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_anaplan.testing.airflow_stack import AirflowStack, TaskSample
from airflow_provider_anaplan.testing.pytest_plugin import EmulatorHandle

from .helpers import deferred_interval, report, summarize

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

DEV, PROD = "75A40874E6B64FA3AE0B4E5D5B4B9A0B", "D3A1B5C7E9F24680ACE13579BDF02468"
REVENUE_MODULE, PRODUCTS_LIST = "102000000001", "101000000001"
LOAD_PRODUCTS = "1a000000000000000000000000000001"
SYNC_SECONDS = RUN_SECONDS = 10.0


def _trigger_rows(stack: AirflowStack, rows: list[dict[str, Any]]) -> Any:
    def on_sample(sample: TaskSample) -> None:
        if sample.state == "deferred" and sample.trigger_id is not None and not rows:
            row = stack.trigger(sample.trigger_id)
            if row is not None:
                rows.append(row)

    return on_sample


def test_deferred_alm_sync_on_the_real_triggerer(
    airflow_stack: AirflowStack, emulator_process: EmulatorHandle
) -> None:
    admin = emulator_process.admin
    admin.configure(min_task_seconds=0.2)
    admin._call("POST", "/alm/config", {"sync_seconds": SYNC_SECONDS})
    admin._call(
        "POST",
        "/alm/structure",
        {"lineItem": {"module": REVENUE_MODULE, "name": "Margin", "dataType": "number"}},
    )
    dag_id = "it_alm_sync_deferred"
    rows: list[dict[str, Any]] = []
    run_id = airflow_stack.trigger_dag(dag_id)
    state, samples = airflow_stack.watch_task(
        dag_id, run_id, "sync", timeout=300, interval=0.5, on_sample=_trigger_rows(airflow_stack, rows)
    )
    assert state == "success", (
        f"{summarize(samples)}\n{airflow_stack.task_log(dag_id, run_id, 'sync')[-6000:]}"
    )
    deferred, text = deferred_interval(samples)
    report(f"[alm sync] {text}; states {summarize(samples)}")
    assert rows and "AnaplanTaskTrigger" in str(rows[0].get("classpath")), rows
    assert '"alm_sync"' in str(rows[0].get("kwargs")) or "alm_sync" in str(rows[0].get("kwargs"))
    result = airflow_stack.xcom(dag_id, run_id, "sync")
    revision = airflow_stack.xcom(dag_id, run_id, "create_revision")
    assert result["revision_id"] == revision["revision_id"] and result["target_model_id"] == PROD
    assert "Margin" in str(admin._call("GET", "/alm/structure", params={"model": PROD}))


def test_deferred_cloudworks_run_on_the_real_triggerer(
    airflow_stack: AirflowStack, emulator_process: EmulatorHandle
) -> None:
    admin = emulator_process.admin
    admin.configure(min_task_seconds=0.2)
    admin._call("POST", "/cloudworks/config", {"run_seconds": RUN_SECONDS})
    products = b"Product,Category,Discontinued\nP951,Hardware,false\nP952,Software,false\n"
    admin._http.put("/objectstore/emulator-bucket/inbound/products.csv", content=products).raise_for_status()
    dag_id, task_id = "it_cloudworks_run_deferred", "load_products"
    rows: list[dict[str, Any]] = []
    run_id = airflow_stack.trigger_dag(dag_id)
    state, samples = airflow_stack.watch_task(
        dag_id, run_id, task_id, timeout=300, interval=0.5, on_sample=_trigger_rows(airflow_stack, rows)
    )
    assert state == "success", (
        f"{summarize(samples)}\n{airflow_stack.task_log(dag_id, run_id, task_id)[-6000:]}"
    )
    deferred, text = deferred_interval(samples)
    report(f"[cloudworks run] {text}; states {summarize(samples)}")
    assert rows and "cloudworks_run" in str(rows[0].get("kwargs")), rows
    result = airflow_stack.xcom(dag_id, run_id, task_id)
    assert result["success"] is True and result["integration_id"] == LOAD_PRODUCTS
    runs = admin._call("GET", "/cloudworks/runs")["runs"]
    assert [r["id"] for r in runs] == [result["run_id"]]  # exactly one run
    assert {"P951", "P952"} <= {i["name"] for i in admin.list_items(PRODUCTS_LIST, PROD)}
