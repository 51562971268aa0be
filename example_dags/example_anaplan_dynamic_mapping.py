"""Dynamic task mapping: one import task per file, each into its own Version.

``extract`` writes one revenue file per version; ``.expand_kwargs`` creates one mapped
:class:`AnaplanImportOperator` per file with its ``uploads`` and ``mapping_parameters``. All files go
through the same Anaplan file id, and Anaplan files are not safe for concurrent writers, so
``max_active_tis_per_dag=1`` runs the mapped tasks one at a time (use a pool per model in production).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
REVENUE_FILE, IMPORT_REVENUE_BY_VERSION = "113000000001", "112000000002"
VERSIONS = {"Actual": 1.0, "Budget": 1.1, "Forecast": 1.2}

with DAG(
    dag_id="example_anaplan_dynamic_mapping",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example", "mapping"],
    doc_md=__doc__,
) as dag:

    @task
    def extract(run_id: str | None = None) -> list[dict]:
        folder = Path(tempfile.gettempdir(), "anaplan_examples", "dynamic", str(run_id).replace(":", "_"))
        folder.mkdir(parents=True, exist_ok=True)
        jobs = []
        for version, factor in VERSIONS.items():
            path = folder / f"revenue_{version}.csv"
            path.write_text("Product,Month,Revenue\n" + "".join(f"P00{i},Jan 26,{100 * i * factor:g}\n" for i in (1, 2, 3)))
            jobs.append({"uploads": {REVENUE_FILE: str(path)}, "mapping_parameters": {"Version": version}})
        return jobs

    AnaplanImportOperator.partial(
        task_id="import_revenue",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=MODEL_ID,
        import_id=IMPORT_REVENUE_BY_VERSION,
        max_active_tis_per_dag=1,
        poll_interval=1,
    ).expand_kwargs(extract())
