"""Several files into one process with a mapping parameter.

The process "Load by version" imports products, then revenue into the Version chosen at run time
(``mapping_parameters``; the DAG param ``version`` picks it, default Budget). Both files are uploaded
by the process operator itself (``uploads={file_id: path}``) just before the task starts; a retry
that reattaches to a running task skips the uploads.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Param, task

from airflow_provider_anaplan.operators.process import AnaplanProcessOperator

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
PRODUCTS_FILE, REVENUE_FILE = "113000000000", "113000000001"
LOAD_BY_VERSION_PROCESS = "118000000001"

with DAG(
    dag_id="example_anaplan_process_mapping",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example"],
    params={"version": Param("Budget", enum=["Actual", "Budget", "Forecast"])},
    doc_md=__doc__,
) as dag:

    @task
    def extract(run_id: str | None = None) -> dict[str, str]:
        folder = Path(tempfile.gettempdir(), "anaplan_examples", "process_mapping", str(run_id).replace(":", "_"))
        folder.mkdir(parents=True, exist_ok=True)
        products = folder / "products.csv"
        products.write_text("Product,Category,Discontinued\nP201,Hardware,false\nP202,Software,false\n")
        revenue = folder / "revenue.csv"
        revenue.write_text("Product,Month,Revenue\nP201,Jan 26,10\nP201,Feb 26,20\nP202,Jan 26,30\n")
        return {"products": str(products), "revenue": str(revenue)}

    files = extract()
    load = AnaplanProcessOperator(
        task_id="load_by_version",
        anaplan_conn_id=CONN_ID,
        workspace_id=WORKSPACE_ID,
        model_id=MODEL_ID,
        process_id=LOAD_BY_VERSION_PROCESS,
        uploads={
            PRODUCTS_FILE: "{{ ti.xcom_pull('extract')['products'] }}",
            REVENUE_FILE: "{{ ti.xcom_pull('extract')['revenue'] }}",
        },
        mapping_parameters={"Version": "{{ params.version }}"},
        poll_interval=1,
    )
    files >> load
