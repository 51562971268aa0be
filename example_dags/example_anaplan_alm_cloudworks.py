"""Release and integration orchestration: ALM revision -> sync to production -> CloudWorks runs.

1. ``create_revision`` tags the development model's structural changes as a revision
   (``if_unchanged="latest"``: when nothing changed, the latest revision is reported instead of failing).
2. ``sync_to_production`` syncs the newest syncable revision into the deployed model, deferred while
   Anaplan applies it (``nothing_to_sync="skip"``: with nothing new, the task is skipped, not failed).
3. ``load_products`` runs a CloudWorks import integration that loads ``inbound/products.csv`` from the
   object store (S3 in production; the emulator's local object store here) into the production model,
   deferred; a partial success (rejected rows) fails it and its error dump is downloaded and previewed.
4. ``load_and_publish`` runs a CloudWorks integration flow (import products, import revenue, export
   revenue back to the store).

The ids default to the emulator's seed (``docs/emulator.md``); set the environment variables for a
real tenant. ``trigger_rule="none_failed"`` lets the CloudWorks part run when the sync was skipped.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_anaplan.operators.alm import AnaplanCreateRevisionOperator, AnaplanModelSyncOperator
from airflow_provider_anaplan.operators.cloudworks import (
    AnaplanCloudWorksFlowOperator,
    AnaplanCloudWorksIntegrationOperator,
)

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
DEV_MODEL_ID = os.environ.get("ANAPLAN_DEV_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
PROD_MODEL_ID = os.environ.get("ANAPLAN_PROD_MODEL_ID", "D3A1B5C7E9F24680ACE13579BDF02468")
LOAD_PRODUCTS_INTEGRATION = os.environ.get("ANAPLAN_CW_INTEGRATION_ID", "1a000000000000000000000000000001")
LOAD_AND_PUBLISH_FLOW = os.environ.get("ANAPLAN_CW_FLOW_ID", "f1000000000000000000000000000001")
POLL = float(os.environ.get("ANAPLAN_EXAMPLE_POLL_INTERVAL", "5"))

with DAG(
    dag_id="example_anaplan_alm_cloudworks",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example", "alm", "cloudworks"],
    doc_md=__doc__,
) as dag:
    create_revision = AnaplanCreateRevisionOperator(
        task_id="create_revision",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=DEV_MODEL_ID,
        name="Release {{ run_id }}",
        description="Tagged by {{ dag.dag_id }} run {{ run_id }}",
        if_unchanged="latest",
    )
    sync_to_production = AnaplanModelSyncOperator(
        task_id="sync_to_production",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=PROD_MODEL_ID,
        source_model_id=DEV_MODEL_ID,
        nothing_to_sync="skip",
        deferrable=True,
        poll_interval=POLL,
        timeout=3600,
    )
    load_products = AnaplanCloudWorksIntegrationOperator(
        task_id="load_products",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=PROD_MODEL_ID,
        integration_id=LOAD_PRODUCTS_INTEGRATION,
        deferrable=True,
        poll_interval=POLL,
        timeout=3600,
        trigger_rule="none_failed",
    )
    load_and_publish = AnaplanCloudWorksFlowOperator(
        task_id="load_and_publish",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=PROD_MODEL_ID,
        flow_id=LOAD_AND_PUBLISH_FLOW,
        poll_interval=POLL,
        timeout=3600,
    )

    create_revision >> sync_to_production >> load_products >> load_and_publish
