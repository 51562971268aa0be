"""DAGs of the real-triggerer compat test (tests/compat/test_real_triggerer.py); not examples.

The connection is ``anaplan_default`` from the environment, pointing at an emulator process whose
import runs long enough to be killed while deferred.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

with DAG(
    "compat_kill_deferred_import",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["compat"],
):
    AnaplanImportOperator(
        task_id="import_products",
        import_id="112000000000",
        uploads={"113000000000": b"Product,Category,Discontinued\nP801,Hardware,false\n"},
        deferrable=True,
        poll_interval=1.0,
    )
