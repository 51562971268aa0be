"""Load a list and a module through one process, then delete discontinued products.

Flow: write ``products.csv`` and ``revenue.csv`` (a stand-in for your extract) -> upload each file
(:class:`AnaplanUploadFileOperator`) -> run the process "Load all" (products list import, then
revenue module import) -> run the delete action. The ids are the emulator's default seed; set
``ANAPLAN_*`` environment variables (or edit the constants) for your own model. Nothing touches the
network while the file is parsed.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_anaplan.operators.action import AnaplanRunActionOperator
from airflow_provider_anaplan.operators.process import AnaplanProcessOperator
from airflow_provider_anaplan.operators.upload import AnaplanUploadFileOperator

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
PRODUCTS_FILE, REVENUE_FILE = "113000000000", "113000000001"
LOAD_ALL_PROCESS = "118000000000"
DELETE_DISCONTINUED = "117000000000"

PRODUCTS = [("P101", "Hardware", "false"), ("P102", "Software", "false"), ("P103", "Services", "true")]
MONTHS = ["Jan 26", "Feb 26", "Mar 26"]

with DAG(
    dag_id="example_anaplan_list_and_module",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example"],
    default_args={"anaplan_conn_id": CONN_ID, "workspace_id": WORKSPACE_ID, "model_id": MODEL_ID},
    doc_md=__doc__,
) as dag:

    @task
    def extract(run_id: str | None = None) -> dict[str, str]:
        """Write the two CSV files and return their paths."""
        folder = Path(tempfile.gettempdir(), "anaplan_examples", "list_and_module", str(run_id).replace(":", "_"))
        folder.mkdir(parents=True, exist_ok=True)
        products = folder / "products.csv"
        products.write_text("Product,Category,Discontinued\n" + "".join(f"{p},{c},{d}\n" for p, c, d in PRODUCTS))
        revenue = folder / "revenue.csv"
        rows = [f"{p},{m},{100 * (i + 1) + j}\n" for i, (p, _, _) in enumerate(PRODUCTS) for j, m in enumerate(MONTHS)]
        revenue.write_text("Product,Month,Revenue\n" + "".join(rows))
        return {"products": str(products), "revenue": str(revenue)}

    paths = extract()
    upload_products = AnaplanUploadFileOperator(
        task_id="upload_products", file_id=PRODUCTS_FILE, source="{{ ti.xcom_pull('extract')['products'] }}"
    )
    upload_revenue = AnaplanUploadFileOperator(
        task_id="upload_revenue", file_id=REVENUE_FILE, source="{{ ti.xcom_pull('extract')['revenue'] }}"
    )
    load_all = AnaplanProcessOperator(task_id="load_all", process_id=LOAD_ALL_PROCESS, poll_interval=1)
    delete_discontinued = AnaplanRunActionOperator(
        task_id="delete_discontinued", action_id=DELETE_DISCONTINUED, poll_interval=1
    )
    paths >> [upload_products, upload_revenue] >> load_all >> delete_discontinued
