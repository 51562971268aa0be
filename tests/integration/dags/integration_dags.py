"""DAGs run by the real-Airflow integration tests (``tests/integration``); not examples for users.

The dag-processor and the task processes parse this file. The Anaplan DAGs exist only when the
provider's operators import (the harness self-test DAG does not need them). Emulator ids are the
default seed's (docs/ARCHITECTURE.md); the connection is ``anaplan_default`` from the environment
(``AIRFLOW_CONN_ANAPLAN_DEFAULT``), set by the tests.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import DAG

START = pendulum.datetime(2026, 1, 1, tz="UTC")
#: Import "Products from products.csv" and its source file (seed ids).
IMPORT_ID = "112000000000"
FILE_ID = "113000000000"
PRODUCTS_CSV = str(Path(__file__).with_name("products.csv"))
POLL_INTERVAL = 2.0

# Harness self-test: a standard deferrable sensor, independent of this provider.
with DAG("it_harness_sensor", schedule=None, start_date=START, catchup=False, tags=["integration"]):
    TimeDeltaSensor(task_id="wait", delta=timedelta(seconds=6), deferrable=True, poke_interval=1)

try:
    from airflow_provider_anaplan.operators.imports import AnaplanImportOperator
except ImportError:  # the operators are not there yet: only the harness DAG exists
    AnaplanImportOperator = None  # type: ignore[assignment,misc]

if AnaplanImportOperator is not None:
    # Deferrable import: the worker slot is released while Anaplan works (test_real_airflow.py).
    with DAG(
        "it_anaplan_deferred_import", schedule=None, start_date=START, catchup=False, tags=["integration"]
    ):
        AnaplanImportOperator(
            task_id="import_products",
            import_id=IMPORT_ID,
            uploads={FILE_ID: PRODUCTS_CSV},
            deferrable=True,
            poll_interval=POLL_INTERVAL,
        )

    # Same, for the triggerer crash-and-restart test (test_crash_restart.py).
    with DAG(
        "it_anaplan_triggerer_crash", schedule=None, start_date=START, catchup=False, tags=["integration"]
    ):
        AnaplanImportOperator(
            task_id="import_products",
            import_id=IMPORT_ID,
            uploads={FILE_ID: PRODUCTS_CSV},
            deferrable=True,
            poll_interval=POLL_INTERVAL,
        )

    # Sync mode with one retry: the worker's task process is killed mid-import (test_crash_restart.py).
    with DAG("it_anaplan_worker_crash", schedule=None, start_date=START, catchup=False, tags=["integration"]):
        AnaplanImportOperator(
            task_id="import_products",
            import_id=IMPORT_ID,
            uploads={FILE_ID: PRODUCTS_CSV},
            deferrable=False,
            poll_interval=POLL_INTERVAL,
            retries=1,
            retry_delay=timedelta(seconds=2),
        )
