"""DAGs of the distributed deployment test (``tests/integration/test_distributed.py``); not examples.

The headline example (``example_dags/example_anaplan_end_to_end.py``: extract -> upload two files and
run the process "Load all" -> export -> download) twice, made for a deployment that loses machines:

* ``dist_anaplan_end_to_end`` uses ``anaplan_default`` (basic auth), ``dist_anaplan_end_to_end_oauth``
  uses ``anaplan_oauth`` (OAuth with a rotatable refresh token). Both connections come from
  ``AIRFLOW_CONN_*`` environment variables set by the test.
* Every task has retries (a worker that dies takes its task with it; the retry must reattach to the
  Anaplan task the dead try started, never start a second one).
* ``load_all`` defers while Anaplan works (the triggerer is killed under it); ``export_revenue`` runs
  in sync mode, so a worker holds an in-flight Anaplan task (the worker is killed under it).
* Each run writes under its own folder ``$ANAPLAN_DISTRIBUTED_OUT/<dag_id>/<run_id>/`` (runs overlap;
  the folder is shared by the workers like a network file system, as the headline DAG passes file
  paths from ``extract`` to ``load_all``).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, task

try:
    from airflow_provider_anaplan.operators.download import AnaplanDownloadFileOperator
    from airflow_provider_anaplan.operators.export import AnaplanExportOperator
    from airflow_provider_anaplan.operators.process import AnaplanProcessOperator
except ImportError:  # the operators are mid-edit: the other test DAGs still load
    AnaplanProcessOperator = None  # type: ignore[assignment,misc]

WORKSPACE_ID = "8a868cd985f53e7701860542f59e276e"
MODEL_ID = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
OUT = Path(os.environ.get("ANAPLAN_DISTRIBUTED_OUT") or Path(tempfile.gettempdir(), "anaplan_distributed"))
PRODUCTS_FILE, REVENUE_FILE = "113000000000", "113000000001"
LOAD_ALL, EXPORT_REVENUE = "118000000000", "116000000000"
MONTHS = [f"{m} 26" for m in "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()]
PRODUCTS = [f"SKU-{i:03d}" for i in range(50)]
#: dag id -> connection id
DAGS = {"dist_anaplan_end_to_end": "anaplan_default", "dist_anaplan_end_to_end_oauth": "anaplan_oauth"}


def build(dag_id: str, conn_id: str) -> DAG:
    run_dir = f"{OUT / dag_id}/{{{{ run_id }}}}"
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=25,
        tags=["integration", "distributed"],
        default_args={
            "anaplan_conn_id": conn_id,
            "workspace_id": WORKSPACE_ID,
            "model_id": MODEL_ID,
            "retries": 3,
            "retry_delay": timedelta(seconds=2),
        },
    ) as dag:

        @task
        def extract(run_id: str | None = None) -> dict[str, str]:
            """Write the two CSV files of this run (idempotent: a retry rewrites the same bytes)."""
            folder = OUT / dag_id / str(run_id) / "input"
            folder.mkdir(parents=True, exist_ok=True)
            products = "Product,Category,Discontinued\n" + "".join(f"{p},Hardware,false\n" for p in PRODUCTS)
            rows = [
                f"{p},{m},{100 + 12 * i + j}\n" for i, p in enumerate(PRODUCTS) for j, m in enumerate(MONTHS)
            ]
            rows += ["SKU-999,Jan 26,5\n", "SKU-001,Feb 26,n/a\n"]  # rejected by Anaplan: see the dump
            for name, text in (
                ("products.csv", products),
                ("revenue.csv", "Product,Month,Revenue\n" + "".join(rows)),
            ):
                tmp = folder / f".{name}.tmp"
                tmp.write_text(text)
                tmp.replace(folder / name)
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
            dump_dir=f"{run_dir}/dumps",
            deferrable=True,
            poll_interval=1,
        )
        export_revenue = AnaplanExportOperator(
            task_id="export_revenue", export_id=EXPORT_REVENUE, deferrable=False, poll_interval=1
        )
        download_revenue = AnaplanDownloadFileOperator(
            task_id="download_revenue", file_id=EXPORT_REVENUE, destination=f"{run_dir}/revenue_export.csv"
        )
        paths >> load_all >> export_revenue >> download_revenue
    return dag


if AnaplanProcessOperator is not None:
    for _dag_id, _conn_id in DAGS.items():
        globals()[_dag_id] = build(_dag_id, _conn_id)
