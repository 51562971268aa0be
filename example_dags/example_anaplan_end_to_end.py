"""The headline example (what ``make demo`` runs): upload -> process -> export -> download.

Flow: write ``products.csv`` (50 products) and ``revenue.csv`` (12 months each, plus two rows Anaplan
must reject: an unknown product and a non-numeric value) -> :class:`AnaplanProcessOperator` uploads both
files and runs the process "Load all" (products list import, then revenue module import), deferring
while Anaplan works; the rejected rows are accepted as a partial load (``fail_on_partial=False``) and
their failure dump is written next to the outputs -> :class:`AnaplanExportOperator` runs the revenue
export -> :class:`AnaplanDownloadFileOperator` streams the exported file to a local path.

Ids are the emulator's default seed; set ``ANAPLAN_*`` environment variables (or edit the constants)
for your own model. ``ANAPLAN_EXAMPLE_OUT`` chooses the output folder. Nothing touches the network while
the file is parsed.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator
from airflow_provider_anaplan.operators.export import AnaplanExportOperator
from airflow_provider_anaplan.operators.process import AnaplanProcessOperator

CONN_ID = os.environ.get("ANAPLAN_CONN_ID", "anaplan_default")
WORKSPACE_ID = os.environ.get("ANAPLAN_WORKSPACE_ID", "8a868cd985f53e7701860542f59e276e")
MODEL_ID = os.environ.get("ANAPLAN_MODEL_ID", "75A40874E6B64FA3AE0B4E5D5B4B9A0B")
OUT = Path(os.environ.get("ANAPLAN_EXAMPLE_OUT", Path(tempfile.gettempdir(), "anaplan_examples", "end_to_end")))
PRODUCTS_FILE, REVENUE_FILE = "113000000000", "113000000001"
LOAD_ALL, EXPORT_REVENUE = "118000000000", "116000000000"
MONTHS = [f"{m} 26" for m in "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()]
PRODUCTS = [f"SKU-{i:03d}" for i in range(50)]

with DAG(
    dag_id="example_anaplan_end_to_end",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["anaplan", "example"],
    default_args={"anaplan_conn_id": CONN_ID, "workspace_id": WORKSPACE_ID, "model_id": MODEL_ID},
    doc_md=__doc__,
) as dag:

    @task
    def extract() -> dict[str, str]:
        """Write the two CSV files (a stand-in for your extract) and return their paths."""
        folder = OUT / "input"
        folder.mkdir(parents=True, exist_ok=True)
        products = "Product,Category,Discontinued\n" + "".join(f"{p},Hardware,false\n" for p in PRODUCTS)
        rows = [f"{p},{m},{100 + 12 * i + j}\n" for i, p in enumerate(PRODUCTS) for j, m in enumerate(MONTHS)]
        rows += ["SKU-999,Jan 26,5\n", "SKU-001,Feb 26,n/a\n"]  # rejected by Anaplan: see the dump
        (folder / "products.csv").write_text(products)
        (folder / "revenue.csv").write_text("Product,Month,Revenue\n" + "".join(rows))
        return {"products": str(folder / "products.csv"), "revenue": str(folder / "revenue.csv")}

    paths = extract()
    load_all = AnaplanProcessOperator(
        task_id="load_all",
        process_id=LOAD_ALL,
        uploads={
            PRODUCTS_FILE: "{{ ti.xcom_pull('extract')['products'] }}",
            REVENUE_FILE: "{{ ti.xcom_pull('extract')['revenue'] }}",
        },
        fail_on_partial=False,
        dump_dir=str(OUT / "dumps"),
        deferrable=True,
        poll_interval=1,
    )
    export_revenue = AnaplanExportOperator(task_id="export_revenue", export_id=EXPORT_REVENUE, poll_interval=1)
    download_revenue = AnaplanDownloadFileOperator(
        task_id="download_revenue", file_id=EXPORT_REVENUE, destination=str(OUT / "revenue_export.csv")
    )
    paths >> load_all >> export_revenue >> download_revenue
