"""A long import that does not hold a worker slot, and a sensor on a task started elsewhere.

``deferrable=True`` starts the import, then hands polling to the triggerer
(:class:`AnaplanTaskTrigger`) until Anaplan finishes; the worker slot is free meanwhile. The deadline
(``timeout``) is computed once before deferring: when it passes, the Anaplan task is cancelled and
the Airflow task fails. :class:`AnaplanTaskSensor` waits (deferred too) for a task whose id another
task pushed to XCom.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_provider_anaplan.hooks.anaplan import AnaplanHook
from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
from airflow_provider_anaplan.sensors.task import AnaplanTaskSensor

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
PRODUCTS_FILE, IMPORT_PRODUCTS = "113000000000", "112000000000"
REVENUE_FILE, IMPORT_REVENUE = "113000000001", "112000000001"
POLL = float(os.environ.get("ANAPLAN_EXAMPLE_POLL_INTERVAL", "5"))

with DAG(
    dag_id="example_anaplan_deferrable_import",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example", "deferrable"],
    doc_md=__doc__,
) as dag:
    long_import = AnaplanImportOperator(
        task_id="long_import",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=MODEL_ID,
        import_id=IMPORT_PRODUCTS,
        uploads={PRODUCTS_FILE: b"Product,Category,Discontinued\nP301,Hardware,false\nP302,Services,false\n"},
        deferrable=True,
        poll_interval=POLL,
        timeout=timedelta(hours=2).total_seconds(),
    )

    @task
    def start_revenue_import() -> str:
        """Start a task outside an Anaplan operator (e.g. another tool did) and return its id."""
        with AnaplanHook(CONN_ID, workspace_id=WORKSPACE_ID, model_id=MODEL_ID) as hook:
            hook.upload_file(REVENUE_FILE, b"Product,Month,Revenue\nP001,Jan 26,5\n")
            return hook.start_task(IMPORT_REVENUE)

    started = start_revenue_import()
    wait = AnaplanTaskSensor(
        task_id="wait_for_revenue_import",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=MODEL_ID,
        action_id=IMPORT_REVENUE,
        task_id_to_watch="{{ ti.xcom_pull('start_revenue_import') }}",
        deferrable=True,
        poke_interval=POLL,
        timeout=3600,
    )
    long_import >> started >> wait
