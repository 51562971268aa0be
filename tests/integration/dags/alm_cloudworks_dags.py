"""DAGs of the real-triggerer ALM and CloudWorks tests (``tests/integration/test_alm_cloudworks_stack.py``).

Seed ids of the emulator (docs/emulator.md, "ALM and CloudWorks"); the connection is ``anaplan_default``
from the environment, set by the tests' stack (its ``cloudworks_url`` points at the emulator).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

START = pendulum.datetime(2026, 1, 1, tz="UTC")
DEV_MODEL = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
PROD_MODEL = "D3A1B5C7E9F24680ACE13579BDF02468"
WORKSPACE = "8a868cd985f53e7701860542f59e276e"
LOAD_PRODUCTS = "1a000000000000000000000000000001"
POLL_INTERVAL = 1.0

try:
    from airflow_provider_anaplan.operators.alm import AnaplanCreateRevisionOperator, AnaplanModelSyncOperator
    from airflow_provider_anaplan.operators.cloudworks import AnaplanCloudWorksIntegrationOperator
except ImportError:  # pragma: no cover - the operators are not there yet
    AnaplanModelSyncOperator = None  # type: ignore[assignment,misc]

if AnaplanModelSyncOperator is not None:
    with DAG("it_alm_sync_deferred", schedule=None, start_date=START, catchup=False, tags=["integration"]):
        revision = AnaplanCreateRevisionOperator(
            task_id="create_revision", model_id=DEV_MODEL, name="Release {{ run_id }}"
        )
        sync = AnaplanModelSyncOperator(
            task_id="sync",
            workspace_id=WORKSPACE,
            model_id=PROD_MODEL,
            source_model_id=DEV_MODEL,
            deferrable=True,
            poll_interval=POLL_INTERVAL,
            timeout=300,
        )
        revision >> sync

    with DAG(
        "it_cloudworks_run_deferred", schedule=None, start_date=START, catchup=False, tags=["integration"]
    ):
        AnaplanCloudWorksIntegrationOperator(
            task_id="load_products",
            workspace_id=WORKSPACE,
            model_id=PROD_MODEL,
            integration_id=LOAD_PRODUCTS,
            deferrable=True,
            poll_interval=POLL_INTERVAL,
            timeout=300,
        )
